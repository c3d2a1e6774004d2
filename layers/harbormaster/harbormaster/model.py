"""The base of every pydantic model in the package.

`defer_build`: a model's validator is built the first time it validates, not when its module is
imported. A handler imports many models it never uses on its path (the configuration's, the
events'), and building each costs a few milliseconds of every cold start."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
