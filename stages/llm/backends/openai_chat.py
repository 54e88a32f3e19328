"""Backend `openai`: any OpenAI-compatible `POST <base_url>/chat/completions` endpoint.

Works with vLLM, SGLang, Ollama (`http://127.0.0.1:11434/v1`) and hosted APIs.
Settings come from `params.yaml: rewrite.openai` (or `judge.openai`: `section` names the one in use, for
messages); the API key is read from the
environment variable named by `api_key_env` and sent only as the
`Authorization: Bearer` header. It is never stored in params, cache entries,
records, metrics or messages: every text of the endpoint that goes into an
error message (its error text through `said`, a body snippet, an exception's
text) passes through `redact`, which withholds it when `guard`
(stages/llm/screen.py) finds the key in it in any form. Of a completion only
`choices[0].message.content`, a known `finish_reason` and the `usage` token counts
are kept (`Response.of`); ids, model names, fingerprints, tool calls, logprobs and
further choices are never read.

Up to `concurrency` requests run at once (threads sharing one httpx client).
Each request has a `timeout_s` and is retried up to `retries` times with
exponential backoff and jitter (honouring `Retry-After`, capped at
`max_backoff_s`) on HTTP 429 and 5xx, timeouts and connection errors. After the
last retry:
- connection failures stop the stage ("cannot reach ..."): every request would fail;
- 401/403 and 404 stop the stage with a hint (API key, base_url or model);
- 429/5xx, timeouts, other 4xx, malformed bodies and corrupt bodies (a gzip
  body that does not inflate: httpx.DecodingError) fail only that prompt.
A completion that contains the API key (an endpoint echoing the Authorization
header) is caught by the stage with `guard` before anything is cached or written
(stages/llm/rewriting.py: `rewrite_secret_in_output`).
"""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Annotated, Any

import httpx
import tenacity
from pydantic import ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from stages.lib.errors import StageError
from stages.lib.params import NonNegativeInt, Params, PositiveInt, PositiveNumber, key_problem, rule
from stages.llm.backends import Failure, GenerationParams, OnResponse, Result
from stages.llm.cache import Response
from stages.llm.prompts import Messages
from stages.llm.screen import KeyGuard

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
WITHHELD = "<withheld: it contains the API key>"


class OpenAIParams(Params):
    """`params.yaml: rewrite.openai` (and `judge.openai`): the endpoint, the NAME of the key's environment
    variable, retries."""

    # no {got} in these two messages: a mistyped URL may hold credentials, a pasted key must not be echoed
    base_url: Annotated[str, rule(lambda v: v.startswith(("http://", "https://")),
                                  "must start with http:// or https://, e.g. http://127.0.0.1:8000/v1", echo=False)]
    model: Annotated[str, rule(bool, "must be the model name the endpoint serves, got {got}")]
    api_key_env: Annotated[str, rule(lambda v: bool(_ENV_NAME.match(v)), "must be the NAME of an environment "
                                     "variable such as OPENAI_API_KEY, not the key itself", echo=False)] | None = None
    concurrency: PositiveInt = 4
    timeout_s: PositiveNumber = 120.0
    retries: NonNegativeInt = 4
    backoff_s: PositiveNumber = 1.0
    max_backoff_s: PositiveNumber = 30.0

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:  # named like an unknown key: rewrite.openai.api_key: ...
            raise key_problem("api_key", "never put a key in params; name its environment variable in api_key_env")
        return super()._known_keys(data)


def openai_block_needed(openai: OpenAIParams | None, info: ValidationInfo) -> OpenAIParams | None:
    """A section's `openai` validator (`field_validator("openai")(openai_block_needed)`): the block is
    required when the section's `backend` is openai."""
    if openai is None and info.data.get("backend") == "openai":
        raise PydanticCustomError("value_rule", "backend openai needs base_url and model")
    return openai


class RetryableStatus(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def _error_message(response: httpx.Response) -> str:
    """The endpoint's whole error text, unredacted: callers use `OpenAIChatBackend.said`."""
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    return " ".join(str(message or response.text or response.reason_phrase).split())


class OpenAIChatBackend:
    name = "openai"

    def __init__(self, settings: OpenAIParams, section: str = "rewrite") -> None:
        self.settings = settings
        self.where = f"{section}.openai"  # the params keys messages point at
        self.url = settings.base_url.rstrip("/") + "/chat/completions"
        self._key = os.environ.get(settings.api_key_env, "") if settings.api_key_env else ""
        self.guard = KeyGuard(self._key, f"environment variable {settings.api_key_env}")
        self.calls = 0
        self._lock = threading.Lock()
        self._backoff = tenacity.wait_exponential_jitter(multiplier=settings.backoff_s, max=settings.max_backoff_s,
                                                         jitter=settings.backoff_s)

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def identity(self) -> str:
        return self.settings.model

    def redact(self, text: str) -> str:
        """`text` from the endpoint, or `WITHHELD` when it holds the API key in any form `guard` knows."""
        return WITHHELD if self.guard.leaks(text) else text

    def said(self, response: httpx.Response) -> str:
        """The endpoint's error text for a message: redacted as a whole, then cut to 200 characters."""
        return self.redact(_error_message(response))[:200]

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatus) and exc.retry_after is not None:
            return min(exc.retry_after, self.settings.max_backoff_s)
        return self._backoff(state)

    def _post_once(self, client: httpx.Client, body: dict[str, Any]) -> Result:
        with self._lock:
            self.calls += 1
        response = client.post(self.url, json=body)
        status = response.status_code
        if status in RETRY_STATUS:
            raise RetryableStatus(status, self.said(response), _retry_after(response))
        if status in (401, 403):
            env = self.settings.api_key_env or f"(none: set {self.where}.api_key_env)"
            raise StageError(f"{self.url}: HTTP {status} ({self.said(response)}): the endpoint "
                             f"refused the request; put the API key in the environment variable {env}")
        if status == 404:
            raise StageError(f"{self.url}: HTTP 404 ({self.said(response)}): check "
                             f"{self.where}.base_url (it usually ends in /v1) and {self.where}.model")
        if status >= 400:
            return Failure(f"HTTP {status}: {self.said(response)}")
        return self._parse_body(response)

    def _parse_body(self, response: httpx.Response) -> Result:
        try:
            body = response.json()
            choice = body["choices"][0]
            content = choice["message"]["content"]
            if content is not None and not isinstance(content, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            snippet = repr(" ".join(response.text.split())[:120])
            return Failure(f"malformed response ({type(exc).__name__}: {self.redact(str(exc))}): "
                           f"{WITHHELD if self.guard.leaks(response.text) else snippet}")
        return Response.of(content, choice.get("finish_reason"), body.get("usage"))

    def _complete(self, client: httpx.Client, messages: Messages, generation: GenerationParams) -> Result:
        body = {"model": self.settings.model, "messages": messages, "max_tokens": generation.max_new_tokens,
                "temperature": generation.temperature, "top_p": generation.top_p, "seed": generation.seed, "n": 1}
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((RetryableStatus, httpx.TransportError)),
            stop=tenacity.stop_after_attempt(self.settings.retries + 1), wait=self._wait, reraise=True)
        attempts = self.settings.retries + 1
        try:
            return retrying(self._post_once, client, body)
        except RetryableStatus as exc:
            return Failure(f"{exc} (after {attempts} attempts)")
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise StageError(f"cannot reach {self.url} after {attempts} attempts "
                             f"({type(exc).__name__}: {self.redact(str(exc))}); start the server or fix "
                             f"{self.where}.base_url") from None
        except httpx.TimeoutException as exc:
            return Failure(f"timed out after {attempts} attempts of {self.settings.timeout_s}s "
                           f"({type(exc).__name__})")
        except httpx.TransportError as exc:
            return Failure(f"transport error after {attempts} attempts ({type(exc).__name__}: {self.redact(str(exc))})")
        except httpx.DecodingError as exc:
            return Failure(f"corrupt response body ({type(exc).__name__}: {self.redact(str(exc))}); the endpoint "
                           "sent a body that does not decode with its Content-Encoding")
        except httpx.RequestError as exc:
            return Failure(f"request failed ({type(exc).__name__}: {self.redact(str(exc))})")

    def generate(self, prompts: list[Messages], generation: GenerationParams, on_response: OnResponse) -> list[Result]:
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        limits = httpx.Limits(max_connections=self.settings.concurrency)
        timeout = httpx.Timeout(self.settings.timeout_s)
        results: list[Result] = [Failure("not run")] * len(prompts)
        with httpx.Client(headers=headers, timeout=timeout, limits=limits) as client, \
                ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            futures = {pool.submit(self._complete, client, messages, generation): index
                       for index, messages in enumerate(prompts)}
            try:
                for future in as_completed(futures):
                    result = results[futures[future]] = future.result()
                    if isinstance(result, Response):
                        on_response(futures[future], result)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        return results
