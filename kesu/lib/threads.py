"""How many threads the native libraries may use in one Kesu process: KESU_WORKER_THREADS (default 1).

Kesu scales by processes (Celery workers, web workers), each working on one picture at a time. Left
alone, ONNX Runtime, OpenCV, OpenBLAS and faiss's OpenMP each start a team of one thread per core in every
process, and ONNX Runtime's team spins while it waits for work. On this 2-core machine NudeNet's session
with its default team took twice the CPU per fingerprinted picture, so one worker already used both
cores and a second added 2 % (bench/patrol_bench.py). With one thread each, a worker is one core's work
and the next process gets the other core.

One mechanism: ``cap`` sets the process-wide teams (run when Django starts, in every process, and again
in each Celery pool process after the fork); every ONNX Runtime session is made with ``session_options``.
"""

import os

from django.conf import settings


def count() -> int:
    """KESU_WORKER_THREADS; its default where Django is not set up (a bench that imports kesu.ml alone)."""
    return settings.KESU_WORKER_THREADS if settings.configured else 1


def cap() -> None:
    """Limit OpenBLAS, OpenMP (faiss), OpenCV and faiss to ``count()`` threads in this process. The libraries
    Kesu uses are imported first, as a team is only capped in a library already loaded; one loaded later (a
    second OpenMP runtime, by dlib or scikit-learn) reads the variables set here. Runs at every start-up, so
    it reads nothing back (``in_effect`` does, for a worker's log)."""
    threads = count()
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    import cv2
    import faiss
    import threadpoolctl

    threadpoolctl.threadpool_limits(threads)  # every OpenBLAS and OpenMP runtime loaded (numpy's, cv2's, faiss's)
    cv2.setNumThreads(threads)
    faiss.omp_set_num_threads(threads)


def in_effect() -> dict[str, int]:
    """The largest team each library may start now (ONNX Runtime: what ``session_options`` gives)."""
    import cv2
    import faiss
    import threadpoolctl

    teams = threadpoolctl.threadpool_info()
    return {
        "blas": max((t["num_threads"] for t in teams if t["user_api"] == "blas"), default=0),
        "openmp": max((t["num_threads"] for t in teams if t["user_api"] == "openmp"), default=0),
        "opencv": cv2.getNumThreads(),
        "faiss": faiss.omp_get_max_threads(),
        "onnxruntime": session_options().intra_op_num_threads,
    }


def session_options(threads: int | None = None):
    """ONNX Runtime options for one session: ``threads`` (default ``count()``) within an operator, one between."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or count()
    options.inter_op_num_threads = 1
    return options


def describe(caps: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in caps.items())
