/*
 * api.h: the REST API's routes (api/openapi.yaml is the contract). Each
 * handler validates its request, then calls into the image, instance and
 * store modules; every answer is JSON except logs (text/plain).
 */
#ifndef API_H
#define API_H

#include <stddef.h>

#include "daemon.h"
#include "http.h"

/* Largest JSON request body. */
#define API_JSON_MAX (1u << 20)

/* http_handler_fn: opaque is the struct daemon. */
void api_handle(struct http_req *req, void *opaque);

/* http_limit_fn: body limit for the request's route. */
size_t api_body_limit(const struct http_req *req, void *opaque);

#endif
