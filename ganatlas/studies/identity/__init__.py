"""Identity study: search for a latent whose face a recogniser calls the target person
(``search``), and iterate face -> embedding -> latent -> face to look for cycles and fixed points
(``iterate``). See docs/identity.md."""
