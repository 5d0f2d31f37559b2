"""Load-and-crash benchmark for the patient submission path (issue 5: no lost or duplicated submission).

``bench/submit_load.py`` is the command line; ``server``, ``patient_client`` and ``checks`` are the pieces it
(and ``tests/test_submit_load.py``) is built from.
"""
