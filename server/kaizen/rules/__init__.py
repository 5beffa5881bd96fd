"""Review rules as code: instruction files, review policy, learned rules and the ast-grep
rules that fixes accepted again and again become."""
