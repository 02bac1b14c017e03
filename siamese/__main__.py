"""Run the command-line tool: ``python -m siamese``."""

from siamese.cli import main

raise SystemExit(main())
