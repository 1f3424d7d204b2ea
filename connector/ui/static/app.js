/* The step runner page: catalogue, step form (json-editor), data-source pickers, run, output,
   trigger events. Every call goes to this server's /api, which runs the connector's runtime. */
'use strict'

const $ = (id) => document.getElementById(id)

/* json-editor's html theme, its own validation messages marked so the page can hide them: the
   runtime's field errors are the one voice (the form library's checks differ in wording and
   would flag optional objects left empty) */
class StepTheme extends JSONEditor.defaults.themes.html {
  getErrorMessage (text) {
    const message = super.getErrorMessage(text)
    message.className = 'je-own-error'
    return message
  }
}
JSONEditor.defaults.themes.step = StepTheme
const state = { step: null, editor: null, lastInput: null, page: 1, triggerRun: null, pollTimer: null }

async function api (method, path, body) {
  const response = await fetch('/api' + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  let data = null
  try { data = await response.json() } catch (e) { data = { error: { type: 'Error', message: `HTTP ${response.status}` } } }
  return { ok: response.ok, status: response.status, data }
}

function el (tag, attrs, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === 'class') node.className = value
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value)
    else node.setAttribute(name, value)
  }
  for (const child of children) node.append(child)
  return node
}

/* -- connections ------------------------------------------------------------------------------ */
async function loadConnections () {
  const { data } = await api('GET', '/connections')
  const select = $('connection')
  const chosen = select.value
  select.replaceChildren()
  for (const c of data.connections) {
    const label = c.kind === 'sandbox' ? 'Sandbox (local Graph, started on the spot)' : `${c.name} (${c.type})`
    select.append(el('option', { value: c.name, 'data-detail': c.detail || '' }, label))
  }
  const saved = data.connections.filter((c) => c.kind === 'saved')
  select.value = chosen || (saved.length === 1 ? saved[0].name : data.sandbox)
  showConnectionDetail()
}

function showConnectionDetail () {
  const option = $('connection').selectedOptions[0]
  $('connection-detail').textContent = option ? option.dataset.detail : ''
}

/* -- catalogue -------------------------------------------------------------------------------- */
async function loadCatalogue () {
  const { data } = await api('GET', '/catalogue')
  const groups = $('groups')
  for (const group of data.groups) {
    const list = el('ul')
    for (const entry of group.entries) {
      const item = el('li', { 'data-search': `${entry.label} ${entry.key} ${entry.description} ${group.name}`.toLowerCase() },
        el('button', { type: 'button', class: 'entry', 'data-key': entry.key, 'data-kind': entry.kind, title: entry.description, onclick: () => openStep(entry.kind, entry.key) },
          el('span', { class: 'label' }, entry.label), el('span', { class: `category cat-${entry.category}` }, entry.category)))
      list.append(item)
    }
    groups.append(el('details', { class: 'group', 'data-group': group.name, open: '' },
      el('summary', {}, group.name.replace(/_/g, ' '), el('span', { class: 'count' }, String(group.entries.length))), list))
  }
}

function filterCatalogue () {
  const words = $('search').value.toLowerCase().split(/\s+/).filter(Boolean)
  for (const group of document.querySelectorAll('#groups details')) {
    let shown = 0
    for (const item of group.querySelectorAll('li')) {
      const match = words.every((w) => item.dataset.search.includes(w))
      item.hidden = !match
      if (match) shown++
    }
    group.hidden = shown === 0
    if (words.length) group.open = true
  }
}

/* -- the step form ---------------------------------------------------------------------------- */
async function openStep (kind, key) {
  const { ok, data } = await api('GET', `/steps/${kind}/${key}`)
  if (!ok) return
  stopPolling()
  state.step = data
  state.triggerRun = null
  for (const b of document.querySelectorAll('.entry')) b.classList.toggle('active', b.dataset.key === key)
  $('welcome').hidden = true
  $('step-view').hidden = false
  $('step-title').textContent = data.label
  $('step-key').textContent = data.key
  $('step-description').textContent = data.description
  $('step-docs').href = data.docs_url || '#'
  $('step-docs').hidden = !data.docs_url
  const badges = [data.category]
  for (const [hint, on] of Object.entries(data.hints || {})) if (on) badges.push(hint.replace('_', '-'))
  $('step-badges').replaceChildren(...badges.filter(Boolean).map((b) => el('span', { class: `badge cat-${b}` }, b)))
  const perms = data.permissions || {}
  $('step-permissions').textContent = `Permissions: delegated ${(perms.delegated || []).join(', ') || '-'}; application ${(perms.application || []).join(', ') || '-'}`
  $('run').textContent = kind === 'trigger' ? 'Start on the sandbox' : 'Run'
  $('stop-trigger').hidden = true
  $('result').hidden = true
  $('events').hidden = true
  $('run-status').textContent = ''
  clearFieldErrors()
  if (state.editor) state.editor.destroy()
  state.editor = new JSONEditor($('form'), {
    schema: data.form_schema,
    theme: 'step',
    disable_edit_json: true,
    disable_properties: true,
    disable_collapse: true,
    disable_array_delete_all_rows: true,
    disable_array_delete_last_row: true,
    prompt_before_delete: false,
    no_additional_properties: true,
    remove_empty_properties: true,
    show_errors: 'never',
    use_default_values: false,
    compact: false
  })
  loadPolicy()
  state.editor.on('ready', () => {
    state.initialValue = state.editor.getValue()
    addPickers(data.data_sources)
  })
}

function fieldPath (path) {
  /* "to[0].address" -> "root.to.0.address" (json-editor's editor paths) */
  return ['root', ...path.replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean)].join('.')
}

function editorFor (path) {
  /* the editor of a runtime error's path, or of its nearest parent that has one */
  let parts = fieldPath(path).split('.')
  while (parts.length > 1) {
    const editor = state.editor.getEditor(parts.join('.'))
    if (editor) return editor
    parts = parts.slice(0, -1)
  }
  return null
}

function clearFieldErrors () {
  for (const node of document.querySelectorAll('.field-error')) node.remove()
  for (const node of document.querySelectorAll('.has-error')) node.classList.remove('has-error')
  $('form-errors').hidden = true
  $('form-errors').replaceChildren()
}

function showFieldErrors (errors) {
  const loose = []
  for (const error of errors) {
    /* a check across fields names them all: "subject, start, end" */
    const paths = error.path && error.path !== 'input' ? error.path.split(', ') : []
    const editors = paths.map(editorFor).filter(Boolean)
    if (!editors.length) { loose.push(error); continue }
    for (const editor of editors) {
      editor.container.classList.add('has-error')
      editor.container.append(el('div', { class: 'field-error', 'data-path': error.path, role: 'alert' }, `${error.path}: ${error.reason}`))
    }
  }
  if (loose.length) {
    $('form-errors').hidden = false
    $('form-errors').replaceChildren(el('strong', {}, 'Invalid input'), ...loose.map((e) => el('div', { class: 'field-error', 'data-path': e.path }, `${e.path}: ${e.reason}`)))
  }
  const first = document.querySelector('.field-error')
  if (first) first.scrollIntoView({ block: 'center' })
}

/* -- data-source pickers: searchable, one page per request ------------------------------------- */
function addPickers (sources) {
  for (const [field, source] of Object.entries(sources || {})) {
    const editor = state.editor.getEditor(`root.${field}`)
    if (!editor) continue
    const panel = el('div', { class: 'picker', hidden: '', 'data-field': field })
    const button = el('button', { type: 'button', class: 'choose', 'data-field': field, onclick: () => togglePicker(panel, field, source, editor) }, 'Choose…')
    editor.container.append(button, panel)
  }
}

function togglePicker (panel, field, source, editor) {
  if (!panel.hidden) { panel.hidden = true; return }
  panel.hidden = false
  const search = el('input', { type: 'search', class: 'picker-search', placeholder: `Search ${source}` })
  const list = el('ul', { class: 'picker-options' })
  const more = el('button', { type: 'button', class: 'picker-more', hidden: '' }, 'More…')
  const status = el('span', { class: 'muted picker-status' })
  panel.replaceChildren(search, list, more, status)
  let cursor = null
  let generation = 0
  const load = async (reset) => {
    if (reset) { cursor = null; list.replaceChildren(); generation++ }
    const mine = generation
    const input = { page_size: 20 }
    if (search.value) input.search = search.value
    if (cursor) input.cursor = cursor
    /* the form's own values of the data source's other inputs (the mailbox, the folder of a message) */
    for (const name of state.step.data_source_inputs[source] || []) {
      const other = name === field ? null : state.editor.getEditor(`root.${name}`)
      const value = other && other.getValue()
      if (value !== undefined && value !== null && value !== '') input[name] = value
    }
    status.textContent = 'loading…'
    const { ok, data } = await api('POST', `/data-sources/${source}`, { connection: $('connection').value, input })
    if (mine !== generation) return /* an answer to an older search */
    if (!ok) { status.textContent = data.error.message; return }
    for (const option of data.options) {
      list.append(el('li', {}, el('button', { type: 'button', class: 'option', 'data-key': option.key, onclick: () => pick(editor, option, panel) },
        el('span', {}, option.label), option.description ? el('small', { class: 'muted' }, option.description) : '')))
    }
    cursor = data.next_cursor
    more.hidden = !cursor
    if (list.children.length) status.textContent = ''
    else status.textContent = cursor ? 'no match on this page: More… looks further' : 'no options'
  }
  let timer = null
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => load(true), 250) })
  more.addEventListener('click', () => load(false))
  load(true)
  search.focus()
}

function pick (editor, option, panel) {
  const value = editor.getValue()
  if (Array.isArray(value)) editor.setValue(value.includes(option.key) ? value : [...value, option.key])
  else editor.setValue(option.key)
  panel.hidden = true
  let picked = editor.container.querySelector('.picked')
  if (!picked) { picked = el('span', { class: 'picked muted' }); panel.before(picked) }
  picked.textContent = `picked: ${option.label}`
}

/* -- running ---------------------------------------------------------------------------------- */
async function runStep (input, approval) {
  const step = state.step
  clearFieldErrors()
  $('graph-error').hidden = true
  $('approval').hidden = true
  $('run-status').textContent = step.kind === 'trigger' ? 'starting…' : 'running…'
  $('run').disabled = true
  const connection = $('connection').value
  const path = step.kind === 'trigger' ? `/triggers/${step.key}/start` : `/run/${step.key}`
  const body = { connection, input }
  if (approval) body.approval = approval
  const { ok, status, data } = await api('POST', path, body)
  $('run').disabled = false
  loadConnections()
  if (!ok) {
    $('run-status').textContent = status === 422 ? 'invalid input: nothing was sent' : 'failed'
    const error = data.error || {}
    if (error.type === 'InputValidationError') showFieldErrors(error.errors || [])
    else if (error.type === 'ApprovalRequired') askApproval(error, input)
    else showError(error)
    return false
  }
  if (step.kind === 'trigger') {
    state.triggerRun = { id: data.instance_id, next: 0 }
    $('run-status').textContent = `trigger instance ${data.instance_id} listening on the sandbox`
    $('stop-trigger').hidden = false
    $('events').hidden = false
    $('event-list').replaceChildren()
    $('event-count').textContent = '(waiting for changes)'
    pollEvents()
    return true
  }
  $('run-status').textContent = 'done'
  showOutput(data.output)
  return true
}

/* -- policy and approvals -------------------------------------------------------------------- */
function askApproval (error, input) {
  $('run-status').textContent = 'waiting for approval: nothing was sent'
  $('approval-summary').textContent = error.summary
  $('approval').hidden = false
  $('approval').dataset.id = error.approval_id
  state.pendingInput = input
}

async function decide (approve) {
  const id = $('approval').dataset.id
  const { ok, data } = await api('POST', `/approvals/${id}`, { connection: $('connection').value, approve })
  $('approval').hidden = true
  if (!ok) { showError(data.error); return }
  if (approve) await runStep(state.pendingInput, id)
  else $('run-status').textContent = `approval ${id} denied: nothing was sent`
}

async function loadPolicy () {
  const connection = $('connection').value
  const { ok, data } = await api('GET', `/policy?connection=${encodeURIComponent(connection)}`)
  if (!ok) { state.policy = null; $('policy-status').textContent = data.error.message; return }
  state.policy = data
  renderPolicy()
  showStepPolicy()
}

function settingSelect (value, choices, onchange, label) {
  const select = el('select', { 'aria-label': label, onchange: (e) => onchange(e.target.value) },
    ...choices.map((c) => el('option', { value: c }, c)))
  select.value = value
  return select
}

function renderPolicy () {
  const { policy, categories, settings, source } = state.policy
  $('policy-source').textContent = `(${source})`
  $('policy-categories').replaceChildren(...categories.map((c) => el('tr', {},
    el('th', {}, c.name),
    el('td', {}, settingSelect(policy.categories[c.name], settings, (v) => savePolicy({ categories: { ...policy.categories, [c.name]: v } }), `policy for ${c.name}`)),
    el('td', { class: 'muted' }, c.meaning))))
  const overrides = Object.entries(policy.overrides)
  $('policy-overrides').replaceChildren(...(overrides.length
    ? overrides.map(([key, value]) => el('li', {}, el('code', {}, key), ' ',
      settingSelect(value, [...settings, 'inherit'], (v) => setOverride(key, v), `policy for ${key}`)))
    : [el('li', { class: 'muted' }, 'none (set one from a step)')]))
}

function showStepPolicy () {
  const step = state.step
  if (!step || step.kind !== 'action' || !state.policy) { $('step-policy').hidden = true; return }
  const { policy, settings } = state.policy
  const override = policy.overrides[step.key]
  const select = settingSelect(override || 'inherit', ['inherit', ...settings], (v) => setOverride(step.key, v), 'Policy for this action')
  select.id = 'step-policy-setting'
  $('step-policy-setting').replaceWith(select)
  const inherited = policy.categories[step.category]
  $('step-policy-note').textContent = override ? `(overrides ${step.category}: ${inherited})` : `(${step.category}: ${inherited})`
  $('step-policy').hidden = false
}

function setOverride (key, value) {
  const overrides = { ...state.policy.policy.overrides }
  if (value === 'inherit') delete overrides[key]
  else overrides[key] = value
  return savePolicy({ overrides })
}

async function savePolicy (change) {
  const policy = { ...state.policy.policy, ...change }
  const { ok, data } = await api('PUT', '/policy', { connection: $('connection').value, policy })
  if (!ok) { $('policy-status').textContent = data.error.message; return }
  state.policy = data
  renderPolicy()
  showStepPolicy()
  $('policy-status').textContent = 'saved'
}

function showError (error) {
  const box = $('graph-error')
  $('result').hidden = false
  $('output-table').replaceChildren()
  $('paging').hidden = true
  $('output-json').textContent = JSON.stringify({ error }, null, 2)
  const title = error.type === 'GraphError' ? `Graph error ${error.status} ${error.code || ''}` : error.type === 'PolicyError' ? 'Refused by the policy' : error.type || 'Error'
  const rows = [el('strong', {}, title)]
  rows.push(el('div', { class: 'message' }, error.graph_message || error.message))
  if (error.hint) rows.push(el('div', { class: 'hint' }, `Hint: ${error.hint}`))
  if (error.request_id) rows.push(el('div', { class: 'request-id' }, `request-id: ${error.request_id}`))
  box.replaceChildren(...rows)
  box.hidden = false
}

const PREFERRED_COLUMNS = ['label', 'subject', 'displayName', 'name', 'from', 'receivedDateTime', 'start', 'end',
  'emailAddresses', 'mail', 'userPrincipalName', 'description', 'isRead', 'key']
const HIDDEN_COLUMNS = ['changeKey', 'internetMessageId', 'conversationId', 'conversationIndex', 'parentFolderId', 'body', 'uniqueBody']

function listOf (output) {
  /* the first property holding a list of objects, e.g. "messages" or "options" */
  for (const [name, value] of Object.entries(output || {})) {
    if (Array.isArray(value) && value.length && value.every((v) => v && typeof v === 'object' && !Array.isArray(v))) return [name, value]
  }
  return [null, null]
}

function cell (value) {
  if (value === null || value === undefined) return ''
  if (typeof value !== 'object') return String(value)
  const address = value.emailAddress || value
  if (address.address) return address.name ? `${address.name} <${address.address}>` : address.address
  if (value.dateTime) return `${value.dateTime} ${value.timeZone || ''}`
  return JSON.stringify(value)
}

function showOutput (output) {
  $('result').hidden = false
  $('output-json').textContent = JSON.stringify(output, null, 2)
  const [name, rows] = listOf(output)
  const table = $('output-table')
  table.replaceChildren()
  if (rows) {
    const columns = []
    for (const row of rows.slice(0, 50)) {
      for (const key of Object.keys(row)) if (!key.startsWith('@') && !columns.includes(key)) columns.push(key)
    }
    const rank = (c) => { const i = PREFERRED_COLUMNS.indexOf(c); return i < 0 ? PREFERRED_COLUMNS.length : i }
    const shown = columns.filter((c) => !HIDDEN_COLUMNS.includes(c)).sort((a, b) => rank(a) - rank(b)).slice(0, 6)
    table.append(el('h3', {}, `${name} (${rows.length})`),
      el('table', { class: 'rows', 'data-list': name },
        el('thead', {}, el('tr', {}, ...shown.map((c) => el('th', {}, c)))),
        el('tbody', {}, ...rows.map((row) => el('tr', {}, ...shown.map((c) => el('td', { title: cell(row[c]) }, cell(row[c]))))))))
  }
  const next = output && output.next_link
  $('paging').hidden = !(next && state.step.pages_with)
  $('page-number').textContent = `page ${state.page}`
}

function formInput () {
  /* the form's value without the optional fields left empty or as the form started them (an
     optional object such as a recurrence is rendered with its parts' defaults: untouched, it is
     not part of the input) */
  const value = state.editor.getValue()
  const schema = state.step.form_schema
  const required = schema.required || []
  for (const [name, field] of Object.entries(value)) {
    if (required.includes(name)) continue
    const untouched = JSON.stringify(field) === JSON.stringify(state.initialValue[name])
    const hasDefault = 'default' in ((schema.properties || {})[name] || {})
    if ((Array.isArray(field) && !field.length) || (untouched && !hasDefault && typeof field === 'object')) delete value[name]
  }
  return value
}

async function run () {
  state.page = 1
  state.lastInput = formInput()
  await runStep(state.lastInput)
}

async function nextPage () {
  const output = JSON.parse($('output-json').textContent)
  const input = { ...state.lastInput, [state.step.pages_with]: output.next_link }
  if (await runStep(input)) { state.page += 1; $('page-number').textContent = `page ${state.page}` }
}

/* -- trigger events (polled) ------------------------------------------------------------------ */
function stopPolling () { clearTimeout(state.pollTimer); state.pollTimer = null }

async function pollEvents () {
  const run = state.triggerRun
  if (!run) return
  const { ok, data } = await api('GET', `/triggers/runs/${run.id}?after=${run.next}&wait=20`)
  if (state.triggerRun !== run) return
  if (!ok) { $('event-count').textContent = data.error.message; return }
  for (const event of data.events) {
    const resource = event.resource || {}
    $('event-list').append(el('li', { class: 'event' },
      el('strong', {}, event.change_type), ` ${event.item_kind} `, el('span', {}, resource.subject || event.resource_id),
      el('small', { class: 'muted' }, ` via ${event.source}`)))
  }
  run.next = data.next
  $('event-count').textContent = data.error ? `(${run.next}; last poll failed: ${data.error})` : `(${run.next})`
  if (!data.stopped) state.pollTimer = setTimeout(pollEvents, 0)
}

async function stopTrigger () {
  const run = state.triggerRun
  if (!run) return
  await api('POST', `/triggers/runs/${run.id}/stop`)
  $('run-status').textContent = `trigger instance ${run.id} stopped`
  $('stop-trigger').hidden = true
}

$('search').addEventListener('input', filterCatalogue)
$('connection').addEventListener('change', () => {
  showConnectionDetail()
  if (state.step || !$('policy-panel').hidden) loadPolicy()
})
$('policy-toggle').addEventListener('click', () => {
  $('policy-panel').hidden = !$('policy-panel').hidden
  if (!$('policy-panel').hidden) loadPolicy()
})
$('approve-run').addEventListener('click', () => decide(true))
$('deny').addEventListener('click', () => decide(false))
$('run').addEventListener('click', run)
$('next-page').addEventListener('click', nextPage)
$('stop-trigger').addEventListener('click', stopTrigger)
loadConnections()
loadCatalogue()
