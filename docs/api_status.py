"""Writes docs/api_status.md: each torch function of the tensor-API plan with ember's
status, found by looking the name up in ember itself (so the table cannot drift from the
code; tests/test_api_status.py checks the committed table is current).

    python docs/api_status.py
"""
from __future__ import annotations

import os

SECTIONS = {
    "Pointwise": """atan2 hypot lerp erf erfc erfinv lgamma digamma xlogy sinc logaddexp
        logaddexp2 floor ceil round trunc frac sign sgn fmod remainder reciprocal square pow
        exp2 logit nan_to_num isnan isinf isfinite isclose allclose equal clamp bitwise_and
        bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift logical_and
        logical_or logical_xor logical_not float_power copysign heaviside special.expit
        special.logit special.erf special.erfc special.erfinv special.gammaln""",
    "Reductions and scans": """prod max min amax amin argmax argmin var std var_mean std_mean
        norm logsumexp cumsum cumprod cummax cummin all any count_nonzero median nanmean
        nansum sort argsort topk kthvalue unique bincount histc""",
    "Shape and view": """Tensor.view reshape permute transpose swapaxes t Tensor.mT squeeze
        unsqueeze Tensor.expand Tensor.expand_as Tensor.repeat tile repeat_interleave flatten
        unflatten narrow unbind split chunk tensor_split cat concat stack hstack vstack dstack
        flip fliplr roll rot90 movedim Tensor.contiguous Tensor.is_contiguous Tensor.stride
        Tensor.storage_offset Tensor.data_ptr clone broadcast_to broadcast_tensors meshgrid
        atleast_1d atleast_2d atleast_3d tril triu diag diagonal diag_embed trace""",
    "Indexing": """Tensor.__getitem__ Tensor.__setitem__ index_select gather scatter
        scatter_add scatter_reduce index_add index_copy index_fill index_put masked_fill
        masked_select masked_scatter take take_along_dim nonzero where argwhere""",
    "Linear algebra": """matmul mm bmm mv dot vdot inner outer addmm addmv addbmm baddbmm
        einsum tensordot kron cross cdist linalg.norm linalg.vector_norm linalg.matrix_norm
        linalg.inv linalg.det linalg.slogdet linalg.solve linalg.cholesky linalg.qr
        linalg.svd linalg.svdvals linalg.eigh linalg.eigvalsh linalg.pinv linalg.lstsq
        linalg.matrix_power linalg.matrix_exp""",
    "In-place": """Tensor.add_ Tensor.mul_ Tensor.clamp_ Tensor.zero_ Tensor.fill_
        Tensor.copy_ Tensor.masked_fill_ Tensor.index_add_ Tensor.scatter_ Tensor.uniform_
        Tensor.normal_ Tensor.__iadd__ Tensor.__isub__ Tensor.__imul__ Tensor.__itruediv__""",
    "dtypes": """Tensor.to Tensor.type Tensor.float Tensor.double Tensor.half Tensor.bfloat16
        Tensor.long Tensor.int Tensor.short Tensor.byte Tensor.bool set_default_dtype
        get_default_dtype finfo iinfo is_floating_point is_complex real imag angle conj
        uint16 uint32 uint64""",
    "Python protocols": """Tensor.__contains__ Tensor.__reversed__ Tensor.__pos__
        Tensor.__delitem__ Tensor.__array_wrap__ Tensor.__div__ Tensor.__rdiv__ Tensor.__idiv__
        Tensor.__long__ Tensor.__nonzero__ Tensor._make_subclass Tensor._is_view""",
    "Random": """manual_seed seed initial_seed get_rng_state set_rng_state Generator rand
        randn randint randperm rand_like randn_like randint_like normal bernoulli multinomial
        poisson Tensor.uniform_ Tensor.normal_ Tensor.random_ Tensor.exponential_
        Tensor.bernoulli_ Tensor.geometric_ Tensor.cauchy_ Tensor.log_normal_""",
    "Devices": """device Tensor.device Tensor.to Tensor.cuda Tensor.cpu Tensor.get_device
        Tensor.is_cuda Tensor.is_pinned Tensor.pin_memory get_default_device set_default_device""",
    "torch.cuda": """cuda.is_available cuda.device_count cuda.current_device cuda.set_device
        cuda.synchronize cuda.get_device_name cuda.get_device_properties
        cuda.get_device_capability cuda.is_initialized cuda.init cuda.manual_seed
        cuda.manual_seed_all cuda.seed cuda.seed_all cuda.initial_seed cuda.get_rng_state
        cuda.set_rng_state cuda.get_rng_state_all cuda.set_rng_state_all cuda.empty_cache
        cuda.memory_allocated cuda.max_memory_allocated cuda.memory_reserved
        cuda.max_memory_reserved cuda.reset_peak_memory_stats cuda.memory_stats
        cuda.memory_summary cuda.mem_get_info cuda.is_bf16_supported cuda.get_arch_list
        cuda.device cuda.device_of cuda.stream cuda.Stream cuda.Event cuda.current_stream
        cuda.FloatTensor cuda.amp.GradScaler cuda.amp.autocast""",
    "torch.backends": """backends.cudnn.is_available backends.cudnn.version
        backends.cudnn.enabled backends.cudnn.benchmark backends.cudnn.deterministic
        backends.cudnn.allow_tf32 backends.cudnn.flags backends.cuda.is_built
        backends.cuda.matmul backends.mps.is_available backends.mps.is_built
        backends.mkldnn.is_available backends.mkldnn.flags backends.mkl.is_available
        backends.openmp.is_available backends.cpu.get_cpu_capability""",
    "torch.accelerator, torch.mps, torch.xpu, torch.cpu": """accelerator.is_available
        accelerator.current_accelerator accelerator.device_count
        accelerator.current_device_index accelerator.synchronize mps.is_available
        mps.device_count mps.manual_seed mps.synchronize xpu.is_available xpu.device_count
        xpu.manual_seed xpu.synchronize cpu.is_available cpu.device_count cpu.current_device
        cpu.synchronize""",
    "Legacy tensor types": """FloatTensor DoubleTensor HalfTensor BFloat16Tensor LongTensor
        IntTensor ShortTensor CharTensor ByteTensor BoolTensor Tensor.type typename""",
    "Top-level namespace": """compile utils.swap_tensors set_float32_matmul_precision
        get_float32_matmul_precision use_deterministic_algorithms
        are_deterministic_algorithms_enabled is_nonzero is_storage Tensor.is_inference
        sin_ relu_ sigmoid_ zero_ celu_ selu_ threshold_ rrelu_ dropout_ alpha_dropout_
        feature_alpha_dropout_ feature_dropout_ embedding_renorm_ resize_as_""",
    "torch.functional": """functional.einsum functional.meshgrid functional.norm
        functional.split functional.tensordot functional.unique functional.broadcast_tensors
        functional.broadcast_shapes functional.block_diag functional.cartesian_prod
        functional.cdist functional.chain_matmul functional.atleast_1d
        functional.unravel_index functional.unique_consecutive functional.stft functional.istft
        functional.lu functional.pca_lowrank functional.svd_lowrank""",
    "torch.testing": """testing.assert_close testing.make_tensor""",
    "torch.fft": """fft.fft fft.ifft fft.rfft fft.irfft fft.fft2 fft.ifft2 fft.rfft2 fft.irfft2
        fft.fftn fft.ifftn fft.rfftn fft.irfftn fft.hfft fft.ihfft fft.hfft2 fft.ihfft2
        fft.hfftn fft.ihfftn fft.fftfreq fft.rfftfreq fft.fftshift fft.ifftshift stft istft
        Tensor.stft Tensor.istft""",
    "More of torch.linalg": """linalg.lu linalg.lu_factor linalg.lu_factor_ex linalg.lu_solve
        linalg.ldl_factor linalg.ldl_factor_ex linalg.ldl_solve linalg.householder_product
        linalg.eig linalg.eigvals linalg.cholesky_ex linalg.inv_ex linalg.solve_ex
        linalg.solve_triangular linalg.cond linalg.matrix_rank linalg.multi_dot
        linalg.tensorinv linalg.tensorsolve linalg.vander linalg.vecdot linalg.diagonal lu
        lu_solve lu_unpack geqrf orgqr ormqr cholesky_solve cholesky_inverse
        triangular_solve pca_lowrank svd_lowrank nuclear_norm frobenius_norm""",
    "torch.special": """special.airy_ai special.bessel_j0 special.bessel_j1 special.bessel_y0
        special.bessel_y1 special.chebyshev_polynomial_t special.hermite_polynomial_h
        special.laguerre_polynomial_l special.legendre_polynomial_p special.entr special.erfcx
        special.gammainc special.gammaincc special.i0e special.i1e special.log_ndtr
        special.ndtr special.ndtri special.modified_bessel_i0 special.modified_bessel_k0
        special.multigammaln special.spherical_bessel_j0 special.xlog1py special.zeta
        special.softmax special.log_softmax special.logsumexp igamma igammac mvlgamma""",
    "Memory formats, storages, DLPack, factories": """memory_format contiguous_format
        channels_last channels_last_3d preserve_format Tensor.layout Tensor.is_sparse
        Tensor.untyped_storage Tensor.storage UntypedStorage TypedStorage FloatStorage
        Tensor.set_ Tensor.resize_ Tensor.new from_dlpack to_dlpack utils.dlpack.from_dlpack
        asarray frombuffer empty_strided empty_permuted from_file""",
    "More top-level operations": """addr put index_reduce histogram histogramdd gradient
        unique_consecutive nonzero_static transpose_copy view_copy unsafe_split
        as_strided_scatter native_layer_norm native_batch_norm native_dropout convolution
        embedding_bag segment_reduce binomial cond while_loop""",
    "torch.distributions": """distributions.Normal distributions.Bernoulli
        distributions.Categorical distributions.Uniform distributions.OneHotCategorical
        distributions.Independent distributions.MultivariateNormal distributions.Exponential
        distributions.Laplace distributions.LogNormal distributions.TransformedDistribution
        distributions.Poisson distributions.Binomial distributions.Geometric
        distributions.kl_divergence distributions.register_kl distributions.constraints
        distributions.Gamma distributions.Chi2 distributions.Beta distributions.Dirichlet
        distributions.StudentT distributions.InverseGamma distributions.FisherSnedecor
        distributions.ContinuousBernoulli distributions.GeneralizedPareto
        distributions.LogisticNormal distributions.VonMises distributions.NegativeBinomial
        distributions.Kumaraswamy distributions.LKJCholesky distributions.Wishart
        distributions.biject_to distributions.transform_to distributions.CatTransform
        distributions.StackTransform distributions.ReshapeTransform
        distributions.StickBreakingTransform distributions.LowerCholeskyTransform
        distributions.PositiveDefiniteTransform distributions.CorrCholeskyTransform
        distributions.CumulativeDistributionTransform _standard_gamma _standard_gamma_grad
        _sample_dirichlet _dirichlet_grad""",
    "torch.func": """func.grad func.grad_and_value func.vmap func.replace_all_batch_norm_modules_
        func.functionalize func.hessian func.jacfwd func.jacrev func.jvp func.linearize
        func.rearrange func.vjp func.functional_call func.stack_module_state
        func.debug_unwrap""",
    "torch.random, torch.multiprocessing, torch.version": """random.manual_seed random.fork_rng
        random.get_rng_state multiprocessing.Process multiprocessing.Queue multiprocessing.spawn
        multiprocessing.get_sharing_strategy version.__version__ version.cuda
        torch_version.TorchVersion set_flush_denormal set_warn_always get_device""",
}


def status(name: str) -> str:
    import ember

    obj = ember
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except (AttributeError, ImportError):
            return "missing"
    return "yes"


def table() -> str:
    lines = ["# ember's coverage of torch's tensor API", "",
             "Generated by `python docs/api_status.py` from ember itself; "
             "`tests/test_api_status.py` checks it is current.", ""]
    for section, names in SECTIONS.items():
        lines += [f"## {section}", "", "| torch | ember |", "| --- | --- |"]
        lines += [f"| `torch.{n}` | {status(n)} |" for n in names.split()]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "api_status.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(table())
