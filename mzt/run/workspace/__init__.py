"""The folders a job works in: `fresh` and `archive` set the workspace aside on `--fresh`,
`isolation` gives the agents a git worktree instead of the user's checkout."""
