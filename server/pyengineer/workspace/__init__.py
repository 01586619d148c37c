"""What the workspace is: markers, package manager, frameworks, ML files, and the file walk behind them."""
