-- Kaizen for Neovim with nothing but the built-in LSP client: the setup docs/editors.md shows,
-- as a module the headless test (tests/nvim/init.lua) uses. Works on Neovim 0.7 (Debian 12:
-- vim.lsp.start_client + vim.lsp.buf_attach_client) and on 0.8+ (vim.lsp.start).
local M = {}

-- The commands Kaizen answers as workspace/executeCommand (docs/protocol.md).
M.commands = {
  status = 'kaizen.getStatus',
  set_model = 'kaizen.setModel',
  create_pr = 'kaizen.createPullRequest',
  metrics = 'kaizen.analyzeMetrics',
  record_outcome = 'kaizen.recordOutcome',
  dismiss = 'kaizen.dismiss',
}

--- The client configuration. opts: cmd (list), root_dir, init_options (the Kaizen settings),
--- capabilities, handlers, before_init, cmd_env.
function M.config(opts)
  opts = opts or {}
  return {
    name = 'kaizen',
    cmd = opts.cmd or { 'kaizen', 'serve' },
    cmd_env = opts.cmd_env,
    root_dir = opts.root_dir or vim.fn.getcwd(),
    init_options = opts.init_options or vim.empty_dict(),
    capabilities = opts.capabilities,
    handlers = opts.handlers,
    before_init = opts.before_init,
  }
end

local clients = {} -- root_dir -> client id (0.7 has no vim.lsp.start to reuse clients)

--- Start (or reuse) the Kaizen client for root_dir and attach it to bufnr; returns its id.
function M.attach(bufnr, opts)
  local config = M.config(opts)
  if vim.lsp.start then -- 0.8+: starts once per name + root_dir, then only attaches
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  local id = clients[config.root_dir]
  if id == nil or vim.lsp.get_client_by_id(id) == nil then
    id = vim.lsp.start_client(config)
    clients[config.root_dir] = id
  end
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

--- Run a Kaizen command synchronously: returns result, err. args is the single JSON object
--- every Kaizen command takes. An empty Lua table would go out as a JSON list ([]), so it is
--- sent as vim.empty_dict() ({}).
function M.execute(client, command, args, timeout_ms)
  if args == nil or (type(args) == 'table' and vim.tbl_isempty(args)) then
    args = vim.empty_dict()
  end
  local response
  local params = { command = command, arguments = { args } }
  local ok = client.request('workspace/executeCommand', params, function(err, result)
    response = { err = err, result = result }
  end, 0)
  if not ok then
    return nil, 'the client is not running'
  end
  if not vim.wait(timeout_ms or 10000, function() return response ~= nil end, 20) then
    return nil, 'timeout waiting for ' .. command
  end
  return response.result, response.err
end

--- The LSP form of the Kaizen diagnostics on a line, as vim.lsp.buf.code_action sends them
--- (with `data`, which carries each finding's fingerprint).
function M.line_diagnostics(bufnr, lnum, client_id)
  if vim.lsp.diagnostic.get_line_diagnostics then
    return vim.lsp.diagnostic.get_line_diagnostics(bufnr, lnum, nil, client_id)
  end
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr, { lnum = lnum })) do
    local lsp = d.user_data and d.user_data.lsp
    if lsp and d.source == 'kaizen' then
      table.insert(out, lsp)
    end
  end
  return out
end

return M
