"""Graph nodes: one module per role or step, plus the routers that choose the next step.

A node reads typed state and the run's ``Context``, calls tools from ``lvas.tools`` and returns
a partial state update. Nodes never know which backend serves them.
"""
