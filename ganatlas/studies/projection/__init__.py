"""Projection of real photos into a generator's latent space (study ``projection``, target
``project``): FFHQ-style alignment from facial landmarks, then an optimisation of w (W), of one w
per synthesis layer (W+) or of z (the DCGAN) with NVIDIA's schedule, scored by PSNR, SSIM,
LPIPS (when available) and identity distance; the same projection on generated faces answers
"how do the latents of real images differ from those of synthetic ones?".
"""
