import sys

from theory.cli.main import main

sys.exit(main())
