import sys

from hsmsync.cli import main

sys.exit(main())
