"""``ember.backends``: mirrors ``torch.backends``, the switches and availability queries of
the libraries torch can run its kernels on (cuDNN, cuBLAS, MPS, oneDNN, OpenMP, MKL).

ember computes with NumPy on the CPU, so each ``is_available()`` answers False (where a
CPU-only torch build answers True for oneDNN, OpenMP and MKL, ember does not use them);
the flags keep torch's defaults and can be set and read back, with torch's checks.
"""
from __future__ import annotations

from ember.backends import cpu, cuda, cudnn, mkl, mkldnn, mps, openmp

__all__ = ["cpu", "cuda", "cudnn", "mkl", "mkldnn", "mps", "openmp"]
