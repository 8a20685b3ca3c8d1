"""backprop-grader: an autograder for backpropagation assignments."""
__version__ = "0.1.0"
