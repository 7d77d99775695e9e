"""The model server: ServerCore, the gRPC servicers, the REST API and the process around them."""
