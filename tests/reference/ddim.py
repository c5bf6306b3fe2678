"""Plain NumPy (float64) references of a DDPM schedule and the DDIM update, written from the papers
(no diffusers): Ho et al. 2020 (https://arxiv.org/abs/2006.11239) for the linear betas and
ᾱ_t = prod_{s<=t} (1 - β_s); Song et al. 2021, "Denoising Diffusion Implicit Models"
(https://arxiv.org/abs/2010.02502), equation (12) for the update, with their α_t written ᾱ_t here:

    x_{t-1} = sqrt(ᾱ_prev) * x0_hat + sqrt(1 - ᾱ_prev - σ_t²) * ε + σ_t * z,
    x0_hat  = (x_t - sqrt(1 - ᾱ_t) * ε) / sqrt(ᾱ_t),
    σ_t     = η * sqrt((1 - ᾱ_prev) / (1 - ᾱ_t)) * sqrt(1 - ᾱ_t / ᾱ_prev)   (equation 16).
"""
import numpy as np


def linear_betas(beta_start=1e-4, beta_end=0.02, steps=1000):
    """(steps,) float64 betas evenly spaced from beta_start to beta_end (both included)."""
    return np.linspace(beta_start, beta_end, steps, dtype=np.float64)


def alphas_cumprod(betas):
    """(T,) float64 ᾱ_t = prod_{s <= t} (1 - β_s)."""
    return np.cumprod(1.0 - np.asarray(betas, dtype=np.float64))


def ddim_step(eps, x_t, abar_t, abar_prev, eta=0.0, z=None, clip=None):
    """One DDIM update from x_t to x_{t-1} (equation 12 of the DDIM paper).

    Args:
        eps: predicted noise, array like x_t. x_t: the current sample.
        abar_t: ᾱ of the current timestep; abar_prev: ᾱ of the one stepped to (1 past the end).
        eta: η (0: deterministic DDIM). z: standard normal noise like x_t when eta > 0.
        clip: None, or c > 0 to clamp x0_hat to [-c, c] (the direction term keeps the
            predicted ε, as the paper's update is written in terms of ε).

    Returns:
        (x_prev, x0_hat), float64 arrays.
    """
    eps = np.asarray(eps, dtype=np.float64)
    x_t = np.asarray(x_t, dtype=np.float64)
    x0 = (x_t - np.sqrt(1.0 - abar_t) * eps) / np.sqrt(abar_t)
    if clip is not None:
        x0 = np.clip(x0, -clip, clip)
    sigma = eta * np.sqrt((1.0 - abar_prev) / (1.0 - abar_t)) * np.sqrt(1.0 - abar_t / abar_prev)
    x_prev = np.sqrt(abar_prev) * x0 + np.sqrt(1.0 - abar_prev - sigma ** 2) * eps
    if eta > 0:
        x_prev = x_prev + sigma * np.asarray(z, dtype=np.float64)
    return x_prev, x0
