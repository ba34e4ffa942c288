"""``python -m visioguichet`` is the ``visioguichet`` command."""

from visioguichet.cli import main

raise SystemExit(main())
