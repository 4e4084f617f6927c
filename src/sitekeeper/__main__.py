from sitekeeper.cli import main

raise SystemExit(main())
