"""ganatlas: map the latent space of StyleGAN-family face generators with face analysis in the loop."""

__version__ = "0.1.0"
