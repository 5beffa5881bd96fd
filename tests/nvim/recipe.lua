-- Headless Neovim driver for the documented recipe (tests/test_neovim.py):
--
--   KAIZEN_NVIM_RECIPE=config.json nvim --headless --clean -u tests/nvim/recipe.lua
--
-- config.json: {"setup" (the Lua block of docs/editors.md's "Neovim 0.7 to 0.10" section,
-- with only its cmd and init_options swapped for the test's), "files", "output", "timeout_ms"}.
-- It loads the setup as a user's init.lua would, opens each file with :edit (so the setup's
-- own FileType autocommand starts and attaches Kaizen), waits for Kaizen's diagnostics in
-- that buffer, and writes what it saw to config.output as JSON. It always quits.
local function read_json(path)
  local f = assert(io.open(path, 'r'))
  local text = f:read('*a')
  f:close()
  return vim.json.decode(text)
end

local config = read_json(assert(os.getenv('KAIZEN_NVIM_RECIPE'), 'KAIZEN_NVIM_RECIPE is not set'))
local v = vim.version()
local out = {
  nvim_version = v.major .. '.' .. v.minor .. '.' .. v.patch,
  has_vim_fs = vim.fs ~= nil,
  has_lsp_start = vim.lsp.start ~= nil,
  buffers = {},
}

local function kaizen_diagnostics(bufnr)
  local list = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.source == 'kaizen' then
      table.insert(list, { lnum = d.lnum, col = d.col, message = d.message, severity = d.severity })
    end
  end
  return list
end

local function run()
  for _, file in ipairs(config.files) do
    vim.cmd('edit ' .. vim.fn.fnameescape(file))
    local bufnr = vim.api.nvim_get_current_buf()
    local seen = vim.wait(config.timeout_ms, function() return #kaizen_diagnostics(bufnr) > 0 end, 50)
    local clients = {}
    for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
      table.insert(clients, { id = client.id, name = client.name, root_dir = client.config.root_dir })
    end
    table.insert(out.buffers, {
      file = file,
      filetype = vim.bo[bufnr].filetype,
      clients = clients,
      diagnostics = kaizen_diagnostics(bufnr),
      timed_out = not seen,
    })
  end
end

-- The setup loads now, as a user's init.lua is; the files open on VimEnter, once Neovim has
-- switched filetype detection on (it does that after the init file, as for every user).
local loaded, load_err = pcall(dofile, config.setup)

local function finish()
  for _, client in pairs(vim.lsp.get_active_clients()) do
    client.stop()
  end
  vim.wait(5000, function() return #vim.lsp.get_active_clients() == 0 end, 50)
  local f = assert(io.open(config.output, 'w'))
  f:write(vim.json.encode(out))
  f:close()
  vim.cmd('qall!')
end

vim.api.nvim_create_autocmd('VimEnter', {
  nested = true, -- so :edit fires FileType, which is what starts Kaizen in the recipe
  callback = function()
    if not loaded then
      out.error = 'the documented setup failed to load: ' .. tostring(load_err)
    else
      local ok, err = pcall(run)
      if not ok then
        out.error = tostring(err)
      end
    end
    finish()
  end,
})
