"""samcore: Segment Anything's prompt encoder and mask decoder, one NumPy spec, many ports."""
