"""`python -m setup.aws COMMAND`: the command line of setup/aws/cli.py."""
import sys

from setup.aws.cli import main

sys.exit(main())
