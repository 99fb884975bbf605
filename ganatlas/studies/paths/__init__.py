"""The paths study: interpolation with identity distances, plane slices, basis axes and style
mixing through a generator's latent space (docs/paths.md)."""
