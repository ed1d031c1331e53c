"""Stream: solved frames from the worker process to Blender through shared memory.

In: :class:`~inference.pipeline.live.FrameResult` records packed by the worker; out: the same
records read by Blender, newest-first (live) or every one in order (record, bake). Open ``ring``
first (the seqlock ring in an mmap'd file, its header and lifecycle), then ``record`` (the frame
record layout) and ``registry`` (segments a crash left behind). numpy and the standard library
only: Blender imports this package.
"""
