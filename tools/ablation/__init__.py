"""Ablation studies of LVAS itself.

A plan (``plan``) names parts of LVAS to remove or replace; ``components`` is the registry of
the parts an ablation can touch, each alternative a set of ``Context`` settings that a normal
run can also use; ``mapping`` turns a plan into variants and metrics; ``table`` and ``chart``
report the results. Running the variants is the ablation graph's job (``lvas.graph.ablation``).
"""
