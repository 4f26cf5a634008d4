// The killswitch console: plain JavaScript, no build step. Every figure comes formatted from
// the server (the CLI's own formatter), so this file only lays them out. Text is always set
// with textContent, never parsed as HTML; what an agent chose (tool names, reasons) arrives
// with its control, bidi and invisible characters already escaped by the server.

const $ = (selector) => document.querySelector(selector)
const PAGE_SIZE = 50
const state = {
  page: 1,
  q: '',
  order: 'listed',
  pages: 1,
  total: 0,
  rows: new Map(),
  view: '',
  events: null,
  // The watch's read of the store the rows and the approvals shown are from (live updates
  // carry theirs): an older answer is not shown over them.
  version: 0,
  approvalsVersion: 0,
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value
    else if (key === 'text') node.textContent = value
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value)
    else if (value !== undefined && value !== false)
      node.setAttribute(key, value === true ? '' : value)
  }
  for (const child of children) if (child) node.append(child)
  return node
}

const SVG = 'http://www.w3.org/2000/svg'
function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag)
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value))
  return node
}

class Unauthorized extends Error {}
/** A refusal of the API, with its code (`store_unavailable`, `already_decided`...). */
class ApiError extends Error {
  constructor(message, code) {
    super(message)
    this.code = code
  }
}

// The session's secret half, from the sign-in answer. The cookie alone is refused: browsers
// send it to every server on this host, whatever the port. sessionStorage is this origin's
// only (port included) and this tab's only; every request to /console/api carries it.
const SESSION_KEY = 'killswitch-session'
const SESSION_HEADER = 'x-killswitch-session'

function sessionHeaders() {
  const secret = sessionStorage.getItem(SESSION_KEY)
  return secret ? { [SESSION_HEADER]: secret } : {}
}

async function api(path, options = {}) {
  const init = {
    method: options.method ?? 'GET',
    headers: sessionHeaders(),
    credentials: 'same-origin',
  }
  if (options.body !== undefined) {
    init.headers['Content-Type'] = 'application/json'
    init.body = JSON.stringify(options.body)
  }
  const response = await fetch(path, init)
  const body = await response.json().catch(() => ({}))
  if (response.status === 401) throw new Unauthorized(body.error?.message ?? 'Sign in first.')
  if (!response.ok) {
    throw new ApiError(body.error?.message ?? `HTTP ${response.status}`, body.error?.code)
  }
  return body
}

function show(id) {
  for (const view of ['sign-in-view', 'agents-view', 'agent-view'])
    $(`#${view}`).hidden = view !== id
}

function setLive(on, text) {
  const live = $('#live')
  live.className = on ? 'on' : 'off'
  live.textContent = text
}

const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString() : 'an unknown time')

// One notice per agent, above the views: what a revoke came to outlives its dialog (closed
// with Escape) and the live updates, until the next outcome for that agent replaces it.
function notice(handle, text, kind = '') {
  const list = $('#notices')
  let item = list.querySelector(`li[data-handle="${CSS.escape(handle)}"]`)
  if (!item) {
    item = el('li', { 'data-handle': handle })
    list.append(item)
  }
  item.className = kind
  item.textContent = text
}

// ----- sign-in

function showSignIn(message = '') {
  closeEvents()
  show('sign-in-view')
  $('#sign-out').hidden = true
  $('#sign-in-error').textContent = message
  setLive(false, 'Signed out')
  $('#token').focus()
}

$('#sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  const token = $('#token').value
  try {
    const { session } = await api('/console/session', { method: 'POST', body: { token } })
    if (session) sessionStorage.setItem(SESSION_KEY, session)
    else sessionStorage.removeItem(SESSION_KEY)
    $('#token').value = ''
    await start()
  } catch (error) {
    $('#sign-in-error').textContent = error.message
    $('#token').select()
  }
})

$('#sign-out').addEventListener('click', async () => {
  await api('/console/session/end', { method: 'POST' }).catch(() => {})
  sessionStorage.removeItem(SESSION_KEY)
  showSignIn()
})

// ----- bars and sparklines

// `committed`: spent and held by calls in flight, the level's colour (a cap all held by live
// streams is as near its end as one all spent); the held part is drawn after the spent.
function bar(percent, status, label, committed = percent) {
  const level =
    status === 'revoked' ? 'revoked' : committed >= 100 ? 'over' : committed >= 80 ? 'warn' : ''
  const fill = el('div', { class: 'fill' })
  fill.style.width = `${Math.min(100, percent)}%`
  const held = el('div', { class: 'fill held' })
  held.style.width = `${Math.max(0, Math.min(100, committed) - Math.min(100, percent))}%`
  const inFlight = committed > percent ? `, ${committed}% with calls in flight` : ''
  return el(
    'div',
    { class: `bar ${level}`, role: 'img', 'aria-label': `${label}: ${percent}% spent${inFlight}` },
    el('div', { class: 'track' }, fill, held),
    el('span', { class: 'pct', 'aria-hidden': 'true', text: `${percent}%` }),
  )
}

function sparkline(points, totalText) {
  const width = 120
  const height = 26
  const max = Math.max(...points, 0)
  const node = svg('svg', {
    class: 'spark',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
  })
  const step = points.length > 1 ? width / (points.length - 1) : width
  const coords = points.map((value, i) => {
    const y = max > 0 ? height - 2 - (value / max) * (height - 4) : height - 2
    return `${(i * step).toFixed(1)},${y.toFixed(1)}`
  })
  node.append(svg('polyline', { class: 'spark-line', points: coords.join(' ') }))
  // The total is drawn beside the line; the line itself is only its shape.
  node.setAttribute('aria-hidden', 'true')
  return el('span', { class: 'rate' }, node, el('span', { text: totalText ?? '' }))
}

// Its own windows, then each shared budget's: any of them can be what stops the next call.
function windows(row) {
  return [
    ...row.limits.map((limit) => ({ name: `per ${limit.per}`, limit })),
    ...(row.budgets ?? []).flatMap((budget) =>
      budget.limits.map((limit) => ({
        name: budget.missing
          ? `budget ${budget.id} (not found)`
          : `budget ${budget.id} per ${limit.per}`,
        limit,
      })),
    ),
  ]
}

function windowBars(row) {
  return windows(row).map(({ name, limit }) =>
    el(
      'div',
      { class: 'window' },
      el('span', { text: `${name}: ${limit.spentText}` }),
      bar(limit.percent, row.status, `${row.handle} ${name}`),
    ),
  )
}

const UNRECONCILED =
  'Holds that lapsed, or calls that ended with nothing known of what they used, charged at their bound until their real cost arrives'

// What stops the next call, said in the list when it is not simply the cap.
const limitedByOther = (row) =>
  row.limitedBy?.level === 'budget' || row.limitedBy?.per || row.grantedText

// ----- agents list

function agentRow(row) {
  const revoked = row.status === 'revoked'
  const tr = el('tr', { class: revoked ? 'revoked' : '', 'data-handle': row.handle })
  tr.append(
    el(
      'th',
      { scope: 'row' },
      el('a', { href: `#/agent/${encodeURIComponent(row.handle)}`, text: row.handle }),
    ),
    el(
      'td',
      {},
      el('span', { class: `status ${row.status}`, text: row.status, title: row.revokedReason }),
      // What stopped it, where the operator looks (not only on its page).
      revoked &&
        el('span', {
          class: 'note revoked-reason',
          text: `${clock(row.revokedAt)}: ${row.revokedReason ?? ''}`,
        }),
      // A throttled runaway spends nothing while its calls are refused: said here.
      row.refusedText && el('span', { class: 'note throttled', text: row.refusedText }),
    ),
    el(
      'td',
      { class: 'num spent' },
      el('span', { class: 'figure', text: row.spentText }),
      row.held > 0 && el('span', { class: 'note in-flight', text: `+ ${row.heldText} in flight` }),
      row.unreconciledText &&
        el('span', {
          class: 'note unreconciled',
          title: UNRECONCILED,
          text: `incl. ${row.unreconciledText} unreconciled`,
        }),
    ),
    el(
      'td',
      {},
      bar(row.percent, row.status, `${row.handle} of its cap`, row.committedPercent),
      ...windowBars(row),
    ),
    el(
      'td',
      { class: 'num available' },
      el('span', { class: 'figure', text: row.availableText }),
      limitedByOther(row) &&
        el('span', { class: 'note limited-by', text: `by ${row.limitedByText}` }),
    ),
    el('td', {}, sparkline(row.rate ?? [], row.rateText)),
    el(
      'td',
      { class: 'actions' },
      el('button', {
        type: 'button',
        onclick: () => openCapDialog(row),
        disabled: revoked,
        text: 'Edit cap',
      }),
      el('button', {
        type: 'button',
        class: 'danger',
        onclick: () => openRevokeDialog(row),
        disabled: revoked,
        text: 'Revoke',
      }),
    ),
  )
  return tr
}

function renderRows() {
  const tbody = $('#agents tbody')
  const focused = document.activeElement
  const focusKey = focused?.closest('tr')?.dataset.handle
  const focusText = focused?.textContent
  tbody.replaceChildren(...[...state.rows.values()].map(agentRow))
  // Keep keyboard focus on the same button across live updates.
  if (focusKey) {
    const row = tbody.querySelector(`tr[data-handle="${CSS.escape(focusKey)}"]`)
    const again = [...(row?.querySelectorAll('a, button') ?? [])].find(
      (n) => n.textContent === focusText,
    )
    again?.focus()
  }
}

async function loadAgents() {
  const params = new URLSearchParams({
    page: String(state.page),
    pageSize: String(PAGE_SIZE),
    order: state.order,
    q: state.q,
  })
  const page = await api(`/console/api/agents?${params}`)
  // Read before a live update this page already applied (a slow answer): its rows are older
  // than those shown, and no update would correct them. Read again instead.
  if (page.version < state.version) return reloadSoon()
  state.page = page.page
  state.pages = page.pages
  state.total = page.total
  state.rows = new Map(page.rows.map((row) => [row.handle, row]))
  renderRows()
  $('#agents-count').textContent =
    `${page.total.toLocaleString('en-US')} agent${page.total === 1 ? '' : 's'}`
  $('#page-info').textContent = `Page ${page.page} of ${page.pages}`
  $('#prev-page').disabled = page.page <= 1
  $('#next-page').disabled = page.page >= page.pages
}

let filterTimer
$('#filter').addEventListener('input', () => {
  clearTimeout(filterTimer)
  filterTimer = setTimeout(() => {
    state.q = $('#filter').value
    state.page = 1
    void loadAgents().catch(handleError)
  }, 200)
})
$('#order').addEventListener('change', () => {
  state.order = $('#order').value
  state.page = 1
  void loadAgents().catch(handleError)
})
$('#prev-page').addEventListener('click', () => {
  state.page -= 1
  void loadAgents().catch(handleError)
})
$('#next-page').addEventListener('click', () => {
  state.page += 1
  void loadAgents().catch(handleError)
})

// ----- approvals

// What a decision came to, said outside the list: the update that removes the decided
// request (or one decided elsewhere first) must not take the message with it.
function approvalsStatus(text, kind = '') {
  const status = $('#approvals-status')
  status.className = kind
  status.textContent = text
}

const askText = (approval) =>
  `${approval.handle} asks for ${approval.requestedText} past its cap: ${approval.reason}`

function approvalItem(approval) {
  const amountId = `amount-${approval.id}`
  const ttlId = `ttl-${approval.id}`
  const amount = el('input', {
    id: amountId,
    type: 'number',
    min: '0',
    step: 'any',
    value: String(approval.requested),
  })
  amount.addEventListener('input', () => {
    amount.dataset.typed = '1'
  })
  const ttl = el(
    'select',
    { id: ttlId },
    el('option', { value: '900000', text: '15 minutes' }),
    el('option', { value: '3600000', text: '1 hour', selected: true }),
    el('option', { value: '86400000', text: '24 hours' }),
  )
  const decide = (path, body) => async () => {
    try {
      const answer = await api(
        `/console/api/approvals/${encodeURIComponent(approval.id)}/${path}`,
        { method: 'POST', body: body() },
      )
      const { grant, grantText } = answer.approval
      approvalsStatus(
        grant
          ? `Approved ${approval.handle}: up to ${grantText} past its cap until ${clock(grant.expiresAt)}.`
          : `Denied ${approval.handle}'s request for ${approval.requestedText}.`,
      )
      await loadApprovals()
    } catch (e) {
      if (e instanceof Unauthorized) return handleError(e)
      approvalsStatus(e.message, 'error')
      // Decided elsewhere first: the request is no longer pending, so it leaves the list.
      if (e.code === 'already_decided') await loadApprovals().catch(handleError)
    }
  }
  return el(
    'li',
    { 'aria-label': `Request by ${approval.handle}`, 'data-id': approval.id },
    el('p', { text: askText(approval) }),
    el('label', { for: amountId, text: 'Grant (USD)' }),
    amount,
    el('label', { for: ttlId, text: 'for' }),
    ttl,
    el('button', {
      type: 'button',
      text: 'Approve',
      // Read when clicked: what the operator typed, whatever updates came since.
      onclick: decide('approve', () => ({
        amount: Number(amount.value),
        ttlMs: Number(ttl.value),
      })),
    }),
    el('button', {
      type: 'button',
      class: 'danger',
      text: 'Deny',
      onclick: decide('deny', () => ({})),
    }),
  )
}

// Patched by id, never rebuilt: a live update (another agent's request, a decision
// elsewhere, a reconnect) keeps each shown request's row as it is, the grant typed into it
// and the focus included (red team r24: a rebuild reset a typed $0.50 for 15 minutes to the
// full $2 for an hour, and Approve granted that). Only new requests are added, decided or
// expired ones removed.
// Each list comes with the watch's read it is from: an older one (a slow answer to this page's
// own request, overtaken by a live update) is dropped, or it would take away a request the
// update just added, and no later update would bring it back.
function renderApprovals(approvals, version) {
  if (version < state.approvalsVersion) return
  state.approvalsVersion = version
  const list = $('#approvals')
  $('#approvals-empty').hidden = approvals.length > 0
  const shown = new Map([...list.children].map((item) => [item.dataset.id, item]))
  const pending = new Set(approvals.map((approval) => approval.id))
  for (const [id, item] of shown) if (!pending.has(id)) item.remove()
  let previous = null
  for (const approval of approvals) {
    const kept = shown.get(approval.id)
    // A request grows while calls join it: what it asks is said anew, and its grant follows
    // unless the operator typed one (kept as typed).
    if (kept) {
      kept.querySelector('p').textContent = askText(approval)
      const amount = kept.querySelector('input')
      if (amount.dataset.typed !== '1') amount.value = String(approval.requested)
    }
    const item = kept ?? approvalItem(approval)
    const next = previous ? previous.nextSibling : list.firstChild
    // Moving a row would blur what it holds: only a new one is inserted.
    if (item !== next) list.insertBefore(item, next)
    previous = item
  }
}

async function loadApprovals() {
  const { approvals, version } = await api('/console/api/approvals')
  renderApprovals(approvals, version)
}

// ----- dialogs

let dialogRow = null

function openDialog(id, row, focus) {
  dialogRow = row
  const dialog = $(id)
  dialog.querySelector('.dialog-handle').textContent = row.handle
  dialog.querySelector('.error').textContent = ''
  const status = dialog.querySelector('.status')
  if (status) status.textContent = ''
  dialog.showModal()
  focus.focus()
}

function openRevokeDialog(row) {
  $('#revoke-reason').value = ''
  openDialog('#revoke-dialog', row, $('#revoke-reason'))
}

function openCapDialog(row) {
  $('#cap-amount').value = String(row.spendingCap)
  openDialog('#cap-dialog', row, $('#cap-amount'))
}

for (const dialog of document.querySelectorAll('dialog')) {
  dialog.querySelector('.cancel').addEventListener('click', () => dialog.close())
}

// Revokes queued by this kill switch (the store did not take them in time, 503): each is
// said to be written once its live row turns revoked.
const queuedRevokes = new Set()

// An agent seen revoked (a live update, a late answer): a queued revoke of it is written,
// and the dialog open on it says so rather than a stale "not written yet: revoke again".
function seenRevoked(row) {
  if (queuedRevokes.delete(row.handle)) {
    notice(row.handle, `The revocation of ${row.handle} is written (at ${clock(row.revokedAt)}).`)
  }
  // Said as a status, not an error: the revoke did what it was asked (red team rt40).
  if ($('#revoke-dialog').open && dialogRow?.handle === row.handle) {
    $('#revoke-dialog .error').textContent = ''
    $('#revoke-dialog .status').textContent =
      `${row.handle} is revoked (at ${clock(row.revokedAt)}: ${row.revokedReason ?? 'no reason'}).`
  }
}

// A revocation in force that its ledger has not written yet (sqlite: the lock held by another
// process): its audit entry is looked for every 2 s, for up to 5 minutes, and the notice
// says written once it is there (red team rt40: "could not record it yet" stayed for good).
// The latest 500 entries (the most a page holds): a looping agent's refusals after the
// revocation must not push the entry out of the page read.
async function confirmWritten(handle) {
  const path = `/console/api/agents/${encodeURIComponent(handle)}/audit?limit=500`
  for (let tries = 0; tries < 150; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 2000))
    try {
      const { entries } = await api(path)
      const revoked = entries.find((entry) => entry.type === 'revoked')
      if (revoked) {
        notice(handle, `The revocation of ${handle} is written (at ${clock(revoked.at)}).`)
        return
      }
    } catch (failure) {
      if (failure instanceof Unauthorized) return
    }
  }
}

$('#revoke-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  const { handle } = dialogRow
  const reason = $('#revoke-reason').value.trim()
  const submit = $('#revoke-form button[type="submit"]')
  const error = $('#revoke-dialog .error')
  // At once: the store may take seconds (a lock held elsewhere), and a second click is no use.
  submit.disabled = true
  submit.textContent = 'Revoking…'
  error.textContent = ''
  try {
    const { agent, alreadyRevoked, replicated, pending, message } = await api(
      `/console/api/agents/${encodeURIComponent(handle)}/revoke`,
      {
        method: 'POST',
        body: reason ? { reason } : {},
      },
    )
    queuedRevokes.delete(handle)
    notice(
      handle,
      alreadyRevoked
        ? `${handle} was already revoked at ${clock(agent.revokedAt)} (${agent.revokedReason ?? 'no reason'}); your note was not recorded.`
        : `${handle} is revoked.`,
    )
    // In force, but on no replica of the store yet (202): said, with what that risks.
    if (replicated === false) notice(handle, message, 'error')
    if (replicated === false && pending === 'ledger') void confirmWritten(handle)
    $('#revoke-dialog').close()
    applyRows([agent])
  } catch (failure) {
    if (failure instanceof Unauthorized) return handleError(failure)
    error.textContent = failure.message
    if (failure.code === 'store_unavailable') {
      // Queued, not lost: said outside the dialog too, so closing it hides nothing.
      queuedRevokes.add(handle)
      notice(
        handle,
        `The revocation of ${handle} is queued, not written yet: ${failure.message}`,
        'error',
      )
      const row = state.rows.get(handle)
      if (row?.status === 'revoked') seenRevoked(row)
    }
  } finally {
    submit.disabled = false
    submit.textContent = 'Revoke'
  }
})

$('#cap-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  try {
    const { agent } = await api(`/console/api/agents/${encodeURIComponent(dialogRow.handle)}`, {
      method: 'PATCH',
      body: { spendingCap: Number($('#cap-amount').value) },
    })
    $('#cap-dialog').close()
    applyRows([agent])
  } catch (error) {
    $('#cap-dialog .error').textContent = error.message
  }
})

// ----- agent page

let agentHandle = ''
let olderBefore

function summaryRow(label, ...value) {
  return [el('dt', { text: label }), el('dd', {}, ...value)]
}

function renderAgent(detail) {
  const row = detail.agent
  $('#agent-title').textContent = row.handle
  $('#agent-status').replaceChildren(
    el('span', { class: `status ${row.status}`, text: row.status }),
  )
  const dl = el('dl', { class: 'summary' })
  dl.append(
    ...summaryRow(
      'Spent / cap',
      el('span', { class: 'spent', text: row.spentText }),
      bar(row.percent, row.status, `${row.handle} of its cap`),
    ),
    ...(row.unreconciledText
      ? summaryRow(
          'Unreconciled',
          el('span', {
            class: 'unreconciled',
            text: `${row.unreconciledText} of the spent: ${UNRECONCILED.toLowerCase()}`,
          }),
        )
      : []),
    ...windows(row).flatMap(({ name, limit }) =>
      summaryRow(
        name[0].toUpperCase() + name.slice(1),
        el('span', {
          text: `${limit.spentText}${limit.resetsAt ? `, resets ${new Date(limit.resetsAt).toLocaleString()}` : ''}`,
        }),
        bar(limit.percent, row.status, `${row.handle} ${name}`),
      ),
    ),
    ...summaryRow('Held', el('span', { text: `${row.heldText} (calls in flight)` })),
    ...summaryRow(
      'Available',
      el('span', { class: 'available', text: row.availableText }),
      el('span', {
        class: 'limited-by',
        text: ` (limited by ${row.limitedByText}${row.limitedBy?.resetsAt ? `, resets ${new Date(row.limitedBy.resetsAt).toLocaleString()}` : ''})`,
      }),
    ),
    ...summaryRow('Spend rate (5 min)', sparkline(row.rate ?? [], row.rateText)),
    ...summaryRow('Created', el('span', { text: new Date(detail.createdAt).toLocaleString() })),
    ...(detail.revokedAt
      ? summaryRow(
          'Revoked',
          el('span', {
            text: `${new Date(detail.revokedAt).toLocaleString()}: ${row.revokedReason ?? ''}`,
          }),
        )
      : []),
  )
  dl.append(
    el(
      'div',
      { class: 'buttons' },
      el('button', {
        type: 'button',
        onclick: () => openCapDialog(row),
        disabled: row.status === 'revoked',
        text: 'Edit cap',
      }),
      el('button', {
        type: 'button',
        class: 'danger',
        onclick: () => openRevokeDialog(row),
        disabled: row.status === 'revoked',
        text: 'Revoke',
      }),
    ),
  )
  $('#agent-summary').replaceChildren(dl)
}

function renderChart(entries, cap) {
  // Cumulative spend through the loaded entries: what each charged, as the server counts it
  // (a settlement of a lapsed hold takes back the lapse's charge).
  let total = 0
  const points = []
  for (const entry of entries) {
    if (entry.charge !== 0) {
      total += entry.charge
      points.push([Date.parse(entry.at), total])
    }
  }
  const width = 720
  const height = 180
  const node = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img' })
  node.setAttribute(
    'aria-label',
    points.length === 0
      ? 'No spend in the entries shown'
      : `Spend rising to $${Math.round(total * 1e6) / 1e6} over the entries shown`,
  )
  if (points.length > 0) {
    const t0 = points[0][0]
    const t1 = Math.max(points.at(-1)[0], t0 + 1)
    const top = Math.max(total, cap > 0 && cap < total * 3 ? cap : 0) || 1
    const x = (t) => 40 + ((t - t0) / (t1 - t0)) * (width - 60)
    const y = (v) => height - 20 - (v / top) * (height - 40)
    // A step line: spend jumps when a charge lands and stays flat between charges.
    const steps = [[t0, 0]]
    for (const [t, v] of points) steps.push([t, steps.at(-1)[1]], [t, v])
    const coords = steps.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`)
    node.append(svg('polyline', { class: 'chart-line', points: coords.join(' ') }))
    if (top === cap) node.append(svg('line', { x1: 40, x2: width - 20, y1: y(cap), y2: y(cap) }))
    const label = (text, attrs) => {
      const t = svg('text', attrs)
      t.textContent = text
      node.append(t)
    }
    label(`$${Math.round(top * 1e4) / 1e4}`, { x: 4, y: 24 })
    label('$0', { x: 4, y: height - 20 })
    label(new Date(t0).toLocaleTimeString(), { x: 40, y: height - 4 })
    label(new Date(t1).toLocaleTimeString(), { x: width - 110, y: height - 4 })
  }
  $('#spend-chart').replaceChildren(node)
}

// An unreconciled charge says its hold id: what `killswitch reconcile` takes, from the bill.
function unreconciledNote(handle, { holdId, charged }) {
  return el(
    'span',
    {
      class: 'unreconciled',
      title: `Correct it from the provider's bill: killswitch reconcile ${handle} ${holdId} <usd>`,
    },
    ` unreconciled: ${charged} charged, its bound; hold `,
    el('code', { text: holdId }),
  )
}

function timelineItem(entry) {
  return el(
    'li',
    {},
    el('time', { datetime: entry.at, text: new Date(entry.at).toLocaleString() }),
    el('span', { class: `type-${entry.type}`, text: entry.type }),
    el(
      'span',
      { text: entry.summary },
      entry.unreconciled && unreconciledNote(entry.handle, entry.unreconciled),
    ),
  )
}

async function loadAgent(handle) {
  const path = `/console/api/agents/${encodeURIComponent(handle)}`
  const [detail, audit] = await Promise.all([api(path), api(`${path}/audit?limit=100`)])
  renderAgent(detail)
  // Newest first in the timeline; the chart runs oldest to newest.
  $('#timeline').replaceChildren(...[...audit.entries].reverse().map(timelineItem))
  renderChart(audit.entries, detail.agent.spendingCap)
  olderBefore = audit.before
  $('#older').hidden = olderBefore === undefined
}

$('#older').addEventListener('click', async () => {
  const audit = await api(
    `/console/api/agents/${encodeURIComponent(agentHandle)}/audit?limit=100&before=${olderBefore}`,
  )
  $('#timeline').append(...[...audit.entries].reverse().map(timelineItem))
  olderBefore = audit.before
  $('#older').hidden = olderBefore === undefined
})

// ----- live updates

// Rows on this page are patched in place. The page is read again (at most once a second)
// only when what it shows can have changed otherwise: agents added or removed, or an order
// by spend, which any agent's change can reshuffle. Off-page changes alone cost nothing.
let reloadTimer
function reloadSoon() {
  if (reloadTimer !== undefined) return
  reloadTimer = setTimeout(() => {
    reloadTimer = undefined
    void loadAgents().catch(handleError)
  }, 1000)
}

function applyRows(changed, reshaped = false) {
  for (const row of changed) if (row.status === 'revoked') seenRevoked(row)
  for (const row of changed) {
    const before = state.rows.get(row.handle)
    if (before === undefined) continue
    // A revoke's or a cap edit's answer comes without the watch's part: the last one kept.
    const { rate, rateText, refusedText } = before
    state.rows.set(
      row.handle,
      row.rate === undefined ? { ...row, rate, rateText, refusedText } : row,
    )
  }
  if (state.view === 'agents') {
    renderRows()
    if (
      reshaped ||
      (changed.length > 0 && (state.order === 'spent' || state.order === 'percent'))
    ) {
      reloadSoon()
    }
  } else if (state.view === 'agent' && changed.some((row) => row.handle === agentHandle)) {
    void loadAgent(agentHandle).catch(handleError)
  }
}

function closeEvents() {
  state.events?.abort()
  state.events = null
}

// Server-sent events read with fetch, not EventSource: EventSource cannot send the session
// header. Each event is `event:` and `data:` lines ended by a blank line; `:` lines are
// keep-alives.
function onEvent(name, data) {
  if (name === 'ready') {
    // A new stream may be a restarted server, counting its reads from 0 again.
    state.version = 0
    state.approvalsVersion = 0
    setLive(true, 'Live')
    void refresh().catch(handleError)
  } else if (name === 'update') {
    const update = JSON.parse(data)
    if (update.error) return setLive(false, `Store unreachable: ${update.error}`)
    setLive(true, 'Live')
    state.version = Math.max(state.version, update.version ?? 0)
    if (update.changed.length > 0 || update.removed.length > 0) {
      applyRows(update.changed, update.removed.length > 0 || update.total !== state.total)
    }
    if (update.approvals) renderApprovals(update.approvals, update.version ?? 0)
  }
}

async function readEvents(signal) {
  const response = await fetch('/console/api/events', {
    headers: { ...sessionHeaders(), Accept: 'text/event-stream' },
    credentials: 'same-origin',
    cache: 'no-store',
    signal,
  })
  if (response.status === 401) throw new Unauthorized('Sign in first.')
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`)
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    buffer += value.replaceAll('\r\n', '\n').replaceAll('\r', '\n')
    let end = buffer.indexOf('\n\n')
    while (end >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      end = buffer.indexOf('\n\n')
      let name = 'message'
      const data = []
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') name = text
        else if (field === 'data') data.push(text)
      }
      if (data.length > 0) onEvent(name, data.join('\n'))
    }
  }
}

function openEvents() {
  closeEvents()
  const controller = new AbortController()
  state.events = controller
  readEvents(controller.signal)
    .catch((error) => {
      if (error instanceof Unauthorized) throw error
    })
    .then(
      () => {
        if (controller.signal.aborted) return
        // The stream ended (server restarted, session expired): find out which, then retry.
        setLive(false, 'Reconnecting…')
        setTimeout(() => {
          if (state.events === controller) void start().catch(handleError)
        }, 2000)
      },
      (error) => {
        if (!controller.signal.aborted) handleError(error)
      },
    )
}

// ----- routing

async function refresh() {
  if (state.view === 'agents') await Promise.all([loadAgents(), loadApprovals()])
  else if (state.view === 'agent') await loadAgent(agentHandle)
}

async function route() {
  const match = /^#\/agent\/(.+)$/.exec(location.hash)
  if (match) {
    state.view = 'agent'
    agentHandle = decodeURIComponent(match[1])
    show('agent-view')
  } else {
    state.view = 'agents'
    show('agents-view')
  }
  await refresh()
  $('#main').focus({ preventScroll: true })
}

function handleError(error) {
  if (error instanceof Unauthorized) {
    sessionStorage.removeItem(SESSION_KEY)
    return showSignIn()
  }
  setLive(false, error.message)
}

async function start() {
  try {
    const session = await api('/console/api/session')
    $('#sign-out').hidden = session.auth === 'none'
  } catch (error) {
    return handleError(error)
  }
  await route()
  openEvents()
}

window.addEventListener('hashchange', () => void route().catch(handleError))
void start().catch(handleError)
