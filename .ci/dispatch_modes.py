"""Print the NPY_DISABLE_CPU_FEATURES values CI reruns the bit-exactness tests under: first
NumPy's AVX-512 kernels off (an AVX2 machine's dispatch), then every dispatched kernel off
(the baseline build only). One line each; the names are this NumPy's own."""
try:
    from numpy._core._multiarray_umath import __cpu_dispatch__ as targets
except ImportError:  # NumPy 1.x
    from numpy.core._multiarray_umath import __cpu_dispatch__ as targets

print(" ".join(t for t in targets if "512" in t or t == "X86_V4"))
print(" ".join(targets))
