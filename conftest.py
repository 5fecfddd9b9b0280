"""Pins the data every test and every executed lesson uses (loaded by pytest before anything else).

``python -m pytest`` runs on the embedded digits whatever the network and whatever ``EWC_DATA``
says in the shell; ``EWC_TEST_DATA=SOURCE`` (any value ``EWC_DATA`` accepts) runs the same tests
on another source. The lessons' cache of trained task-A models and sweeps goes to a fresh folder
for the session (``EWC_TEST_CACHE=FOLDER`` keeps it somewhere reusable), so no test depends on
what an earlier run left behind. ``EWC_TEST_SEED=N`` shifts every seed a lesson uses by ``N``
(through ``EWC_SEED``, read by ``ewc_helpers.studies.common.lesson_seed``; 0 unless given, whatever
the shell's ``EWC_SEED``), so ``EWC_TEST_SEED=1 python -m pytest`` re-runs the course on other
seeds. Kernels started by nbval inherit these settings.
"""

import os
import tempfile

os.environ["EWC_DATA"] = os.environ.get("EWC_TEST_DATA", "").strip() or "embedded"
os.environ["EWC_CACHE"] = os.environ.get("EWC_TEST_CACHE", "").strip() or tempfile.mkdtemp(prefix="ewc_test_cache_")
os.environ["EWC_SEED"] = os.environ.get("EWC_TEST_SEED", "").strip() or "0"
