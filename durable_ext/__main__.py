from durable_ext.cli import main

raise SystemExit(main())
