-- Headless Neovim driver for tests/test_neovim.py:
--
--   KAIZEN_NVIM_TEST=config.json nvim --headless --clean -u tests/nvim/init.lua FILE.py
--
-- config.json: {"cmd", "root_dir", "init_options", "output", "profile" ("minimal" strips
-- window.workDoneProgress from Neovim's capabilities, "default" keeps them), "timeout_ms"}.
-- On VimEnter it attaches Kaizen to the buffer, waits for its diagnostics, asks for code
-- actions, applies the quick fix's WorkspaceEdit, runs its command (and, when offered after a
-- ruff fix, "apply to N similar places"), and writes everything it saw to config.output as
-- JSON. It always quits, with whatever it got so far plus the error.
-- Any error before the scenario starts makes Neovim exit at once with status 2.
local function die(err)
  io.stderr:write('tests/nvim/init.lua: ' .. tostring(err) .. '\n')
  vim.cmd('cquit 2')
end

local function read_json(path)
  local f = assert(io.open(path, 'r'))
  local text = f:read('*a')
  f:close()
  return vim.json.decode(text)
end

local function given(value) -- JSON null decodes to vim.NIL, which is truthy
  if value == vim.NIL then
    return nil
  end
  return value
end

local loaded, kaizen, config = pcall(function()
  local here = debug.getinfo(1, 'S').source:sub(2):match('(.*[/\\])') or './'
  package.path = here .. '?.lua;' .. package.path
  local path = assert(os.getenv('KAIZEN_NVIM_TEST'), 'KAIZEN_NVIM_TEST is not set')
  return require('kaizen'), read_json(path)
end)
if not loaded then
  return die(kaizen)
end
local timeout = given(config.timeout_ms) or 20000
if given(config.log_level) then
  vim.lsp.set_log_level(config.log_level) -- the traffic goes to $XDG_CACHE_HOME/nvim/lsp.log
end

local out = {
  nvim_version = tostring(vim.version().major) .. '.' .. vim.version().minor .. '.' .. vim.version().patch,
  steps = {},
  server_methods = {}, -- every method the server sent us (notifications and requests), counted
  messages = {},       -- window/showMessage and window/logMessage texts
  progress = {},       -- $/progress values
  publishes = {},      -- each publishDiagnostics: its version, count, and the buffer's version
}

local function step(name)
  table.insert(out.steps, name)
end

local function seen(method)
  out.server_methods[method] = (out.server_methods[method] or 0) + 1
end

-- Record what the server sends; the built-in handlers still do the work.
local handlers = setmetatable({
  ['window/showMessage'] = function(_, result, _)
    seen('window/showMessage')
    table.insert(out.messages, result.message)
  end,
  ['window/logMessage'] = function(_, result, _)
    seen('window/logMessage')
    table.insert(out.messages, result.message)
  end,
  ['textDocument/publishDiagnostics'] = function(err, result, ctx, cfg)
    seen('textDocument/publishDiagnostics')
    local bufnr = vim.uri_to_bufnr(result.uri)
    table.insert(out.publishes, {
      version = result.version, count = #result.diagnostics,
      document_version = vim.lsp.util.buf_versions[bufnr],
    })
    return vim.lsp.handlers['textDocument/publishDiagnostics'](err, result, ctx, cfg)
  end,
  ['$/progress'] = function(err, result, ctx)
    seen('$/progress')
    table.insert(out.progress, result.value)
    return vim.lsp.handlers['$/progress'](err, result, ctx)
  end,
}, {
  __index = function(_, method)
    seen(method) -- then the client falls back to vim.lsp.handlers[method]
    return nil
  end,
})

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  if config.profile == 'minimal' then
    caps.window.workDoneProgress = false
  end
  return caps
end

local function buffer_text(bufnr)
  local lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  local text = table.concat(lines, '\n')
  if vim.api.nvim_buf_get_option(bufnr, 'eol') then
    text = text .. '\n'
  end
  return text
end

local function kaizen_diagnostics(bufnr)
  local list = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.source == 'kaizen' or d.source == 'kaizen (ruff)' or d.source == 'kaizen (ast-grep)' then
      table.insert(list, d)
    end
  end
  return list
end

local function wait_for(what, predicate)
  if not vim.wait(timeout, predicate, 25) then
    error('timed out after ' .. timeout .. ' ms waiting for ' .. what)
  end
end

local function scenario()
  local bufnr = vim.api.nvim_get_current_buf()
  local uri = vim.uri_from_bufnr(bufnr)
  out.uri = uri
  out.filetype = vim.bo[bufnr].filetype

  local id = kaizen.attach(bufnr, {
    cmd = config.cmd,
    root_dir = config.root_dir,
    init_options = config.init_options,
    capabilities = capabilities(),
    handlers = handlers,
    before_init = function(params)
      out.initialize = {
        capabilities = params.capabilities,
        initializationOptions = params.initializationOptions,
        rootUri = params.rootUri,
      }
    end,
  })
  assert(id, 'the Kaizen client did not start')
  local client = vim.lsp.get_client_by_id(id)
  wait_for('initialize', function() return client.initialized end)
  step('initialized')
  out.offset_encoding = client.offset_encoding
  out.server_commands = (client.server_capabilities.executeCommandProvider or {}).commands
  out.text_document_sync = client.server_capabilities.textDocumentSync

  -- 1. Kaizen's diagnostics arrive by push (textDocument/publishDiagnostics)
  wait_for('Kaizen diagnostics', function() return #kaizen_diagnostics(bufnr) > 0 end)
  local diagnostics = kaizen_diagnostics(bufnr)
  out.diagnostics = {}
  for _, d in ipairs(diagnostics) do
    table.insert(out.diagnostics, {
      message = d.message, source = d.source, code = d.code, severity = d.severity,
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
    })
  end
  step('diagnostics')

  -- 2. code actions for the diagnostic under the cursor, as vim.lsp.buf.code_action asks
  local d = diagnostics[1]
  vim.api.nvim_win_set_cursor(0, { d.lnum + 1, d.col })
  local params = vim.lsp.util.make_range_params()
  params.context = { diagnostics = kaizen.line_diagnostics(bufnr, d.lnum, id) }
  out.context_diagnostics = params.context.diagnostics
  local responses, err = vim.lsp.buf_request_sync(bufnr, 'textDocument/codeAction', params, timeout)
  assert(responses, 'textDocument/codeAction: ' .. tostring(err))
  local response = responses[id] or {}
  assert(not response.error, 'textDocument/codeAction failed: ' .. vim.inspect(response.error))
  local actions = response.result or {}
  out.actions = {}
  local fix
  for _, action in ipairs(actions) do
    table.insert(out.actions, {
      title = action.title, kind = action.kind, isPreferred = action.isPreferred,
      has_edit = action.edit ~= nil,
      command = type(action.command) == 'table' and action.command.command or action.command,
    })
    if fix == nil and action.kind == 'quickfix' and action.edit then
      fix = action
    end
  end
  assert(fix, 'no quick fix with an edit among ' .. #actions .. ' code actions')
  step('code actions')

  -- 3. apply the fix as vim.lsp.buf.code_action does: the edit, then the command
  vim.lsp.util.apply_workspace_edit(fix.edit, client.offset_encoding or 'utf-16')
  out.text_after_edit = buffer_text(bufnr)
  step('edit applied')
  local result, cmd_err = kaizen.execute(client, fix.command.command, fix.command.arguments[1], timeout)
  assert(cmd_err == nil, fix.command.command .. ' failed: ' .. vim.inspect(cmd_err))
  out.command = { name = fix.command.command, result = result }
  step('command executed')

  -- 3b. after an accepted ruff fix, Kaizen may offer "apply to N similar places": ask for
  -- the code actions again, apply that one's WorkspaceEdit (other files), write, run its command
  if type(result) == 'table' and given(result.similar) and result.similar > 0 then
    local again = vim.lsp.util.make_range_params()
    again.context = { diagnostics = {} }
    local replies = vim.lsp.buf_request_sync(bufnr, 'textDocument/codeAction', again, timeout)
    local similar
    for _, action in ipairs(((replies or {})[id] or {}).result or {}) do
      if action.title:find('similar', 1, true) then
        similar = action
      end
    end
    assert(similar, 'no "apply to N similar places" code action after accepting the fix')
    vim.lsp.util.apply_workspace_edit(similar.edit, client.offset_encoding or 'utf-16')
    vim.cmd('silent wall')
    local accepted, similar_err =
      kaizen.execute(client, similar.command.command, similar.command.arguments[1], timeout)
    assert(similar_err == nil, similar.command.command .. ' failed: ' .. vim.inspect(similar_err))
    out.similar = { title = similar.title, uris = vim.tbl_keys(similar.edit.changes), result = accepted }
    step('similar applied')
  end

  -- 4. the accepted finding's diagnostic goes away
  wait_for('the diagnostic to clear', function() return #kaizen_diagnostics(bufnr) == 0 end)
  out.diagnostics_after = #kaizen_diagnostics(bufnr)
  step('diagnostics cleared')

  -- 5. saving sends didSave, which runs Kaizen again on the fixed text
  out.save_capability = client.resolved_capabilities.text_document_save
  local before = #out.publishes
  vim.cmd('silent write')
  wait_for('diagnostics after :write', function() return #out.publishes > before end)
  -- the first publish after a save holds the static findings; the model's publish follows,
  -- so wait until Kaizen no longer lists the buffer as pending (kaizen.getStatus)
  local deadline = vim.loop.now() + timeout
  while true do
    local now, now_err = kaizen.execute(client, kaizen.commands.status, {}, timeout)
    assert(now_err == nil, 'kaizen.getStatus failed: ' .. vim.inspect(now_err))
    if not vim.tbl_contains((now or {}).pending or {}, uri) then
      break
    end
    assert(vim.loop.now() < deadline, 'timed out waiting for the run after :write to finish')
    vim.wait(50)
  end
  out.publish_after_save = out.publishes[#out.publishes]
  step('saved')

  -- 6. a plain command call, as a user would map it
  local status, status_err = kaizen.execute(client, kaizen.commands.status, {}, timeout)
  assert(status_err == nil, 'kaizen.getStatus failed: ' .. vim.inspect(status_err))
  out.status = status
  out.text = buffer_text(bufnr)
  step('status')

  -- 7. choose a model, as docs/editors.md maps :KaizenModel
  local autofix = config.init_options.autofix
  local chosen, set_err = kaizen.execute(client, kaizen.commands.set_model, {
    pipeline = 'autofix', provider = 'openai', model = 'chosen-model', apiBase = autofix.apiBase,
  }, timeout)
  assert(set_err == nil, 'kaizen.setModel failed: ' .. vim.inspect(set_err))
  out.set_model = chosen
  step('model chosen')

  -- 8. metrics, when this server offers the command
  if vim.tbl_contains(out.server_commands or {}, kaizen.commands.metrics) then
    local metrics, metrics_err = kaizen.execute(client, kaizen.commands.metrics, {}, timeout)
    assert(metrics_err == nil, 'kaizen.analyzeMetrics failed: ' .. vim.inspect(metrics_err))
    out.metrics = metrics
    step('metrics')
  end

  -- 9. clean shutdown (shutdown + exit), so the server flushes and exits
  vim.lsp.stop_client(id)
  wait_for('the server to stop', function() return vim.lsp.get_client_by_id(id) == nil end)
  step('stopped')
end

local function write_results()
  local f = assert(io.open(config.output, 'w'))
  f:write(vim.json.encode(out))
  f:close()
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  nested = true, -- so :write fires BufWritePost, which sends didSave
  callback = function()
    local ok, err = xpcall(scenario, debug.traceback)
    if not ok then
      out.error = tostring(err)
    end
    local written, werr = pcall(write_results)
    if not written then
      io.stderr:write('could not write results: ' .. tostring(werr) .. '\n')
    end
    vim.cmd('qall!')
  end,
})
