"""The course's GPU box on AWS: `python -m setup.aws up|status|ssh|tunnel|stop|start|down` (cli.py).

box.py is the instance's lifecycle, network.py where it sits and who may reach it, price.py what it
costs, guard.py the idle guard; base.py holds the tag and the error type they share.
"""
