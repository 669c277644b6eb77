import sys

from optsearch.cli import main

sys.exit(main())
