from mdcnb.cli import main

raise SystemExit(main())
