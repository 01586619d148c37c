-- pyengineer does nothing until require("pyengineer").setup({...}) is called (lazy.nvim: opts = {}).
if vim.g.loaded_pyengineer then
  return
end
vim.g.loaded_pyengineer = 1
