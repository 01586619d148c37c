"""Allow `python -m pyengineer`."""

from pyengineer.entry import main

raise SystemExit(main())
