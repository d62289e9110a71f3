"""KESU_WORKER_THREADS: the teams of threads native libraries may start in one Kesu process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kesu.lib import threads
from kesu.ml import facenet, yolo

KESU = str(Path(sys.executable).with_name("kesu"))


@pytest.fixture
def two_threads(settings):
    settings.KESU_WORKER_THREADS = 2
    yield
    settings.KESU_WORKER_THREADS = 1
    threads.cap()


def test_every_library_keeps_to_one_thread_by_default():
    # Django's start-up capped them (kesu/matching/apps.py), as in every web, worker and command process
    assert threads.in_effect() == {"blas": 1, "openmp": 1, "opencv": 1, "faiss": 1, "onnxruntime": 1}
    assert yolo.detector(320).session.get_session_options().intra_op_num_threads == 1
    assert facenet.session().get_session_options().intra_op_num_threads == 1


def test_the_setting_sets_every_team(two_threads):
    threads.cap()
    assert threads.in_effect() == {"blas": 2, "openmp": 2, "opencv": 2, "faiss": 2, "onnxruntime": 2}
    assert yolo.Detector(320).session.get_session_options().intra_op_num_threads == 2


@pytest.mark.parametrize("value", ["0", "65", "two"])
def test_a_bad_value_stops_start_up_with_one_line(tmp_path, value):
    env = {**os.environ, "KESU_DATA_DIR": str(tmp_path), "KESU_WORKER_THREADS": value}
    env.pop("KESU_DATABASE_URL", None)
    done = subprocess.run([KESU, "init"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "KESU_WORKER_THREADS" in done.stderr
