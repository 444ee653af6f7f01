"""``python -m zoomwatt``: the same as the ``zoomwatt`` command."""

from zoomwatt.cli.main import main

raise SystemExit(main())
