"""Request and response bodies: one model family per entity (``XCreate``, ``XPublic``,
``XsPublic(data, count)``), each with an example for the OpenAPI document."""
