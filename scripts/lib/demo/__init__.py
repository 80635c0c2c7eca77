"""scripts/demo: the whole ggvision pipeline on sample footage through the local nucleus, leaving an
annotated MP4, a contact sheet, the IoT Core messages and a summary in demo-output/.

One concept per module: `options` (command line), `config` (the deployment's configuration update),
`monitor` (what the demo itself sees on local pub/sub), `progress`, `frame_index` (the viewer's
index), `video` and `contact_sheet` (outputs), `summary`, and `runner`, which ties them together.
"""
