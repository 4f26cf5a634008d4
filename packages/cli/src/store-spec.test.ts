import { describe, expect, it } from 'vitest'
import { describeStoreSpec, parseStoreSpec } from './store-spec.js'

describe('parseStoreSpec', () => {
  it('defaults to .killswitch/state.db under the working directory', () => {
    expect(parseStoreSpec(undefined, '/srv/app')).toEqual({
      kind: 'sqlite',
      path: '/srv/app/.killswitch/state.db',
    })
    expect(parseStoreSpec('  ', '/srv/app')).toEqual({
      kind: 'sqlite',
      path: '/srv/app/.killswitch/state.db',
    })
  })

  it('resolves sqlite paths against the working directory, keeps absolute ones', () => {
    expect(parseStoreSpec('sqlite:ks.db', '/srv/app')).toEqual({
      kind: 'sqlite',
      path: '/srv/app/ks.db',
    })
    expect(parseStoreSpec('sqlite:/var/lib/ks.db', '/srv')).toEqual({
      kind: 'sqlite',
      path: '/var/lib/ks.db',
    })
    expect(parseStoreSpec('sqlite:///var/lib/ks.db', '/srv')).toEqual({
      kind: 'sqlite',
      path: '/var/lib/ks.db',
    })
  })

  it('accepts redis URLs and memory', () => {
    expect(parseStoreSpec('redis://cache:6379/2', '/')).toEqual({
      kind: 'redis',
      url: 'redis://cache:6379/2',
    })
    expect(parseStoreSpec('rediss://cache:6380', '/')).toMatchObject({ kind: 'redis' })
    expect(parseStoreSpec('memory', '/')).toEqual({ kind: 'memory' })
  })

  it('refuses anything else, listing the accepted forms', () => {
    for (const bad of ['postgres://db', 'sqlite:', 'state.db', 'redis:cache']) {
      expect(() => parseStoreSpec(bad, '/')).toThrow(/sqlite:PATH, redis:\/\//)
    }
  })
})

describe('describeStoreSpec', () => {
  it('never prints a redis password', () => {
    const text = describeStoreSpec({ kind: 'redis', url: 'redis://user:s3cret@cache:6379/1' })
    expect(text).toBe('redis://cache:6379/1')
    expect(describeStoreSpec({ kind: 'sqlite', path: '/a/b.db' })).toBe('sqlite:/a/b.db')
  })
})
