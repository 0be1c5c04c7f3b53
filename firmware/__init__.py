# The MCTP endpoint firmware: an application of the mctp package. See firmware/endpoint.py.
