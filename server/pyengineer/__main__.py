"""Allow `python -m pyengineer`."""

from pyengineer.cli import main

raise SystemExit(main())
