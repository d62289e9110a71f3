"""Face and nudity analysis of images: one detector pass (NudeNet) gives face boxes and
nudity labels; dlib gives landmarks, aligned chips and 128-D face embeddings.

Everything runs in memory: pixels of victims' media are never written to disk or logged.
"""
