#!/bin/sh
kill -TERM $$
sleep 5
