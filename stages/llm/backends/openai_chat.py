"""Backend `openai`: any OpenAI-compatible `POST <base_url>/chat/completions` endpoint.

Works with vLLM, SGLang, Ollama (`http://127.0.0.1:11434/v1`) and hosted APIs.
Settings come from `params.yaml: rewrite.openai`; the API key is read from the
environment variable named by `api_key_env` and sent only as the
`Authorization: Bearer` header. It is never stored in params, cache entries,
records, metrics or messages: every error text passes through `redact`.

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
header) fails that prompt as `rewrite_secret_in_output`: it is never passed on,
so never cached nor written.
"""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Annotated, Any

import httpx
import tenacity
from pydantic import model_validator

from stages.lib.errors import StageError
from stages.lib.params import NonNegativeInt, Params, PositiveInt, PositiveNumber, key_problem, rule
from stages.llm.backends import Failure, GenerationParams, OnResponse, Result
from stages.llm.cache import Response
from stages.llm.prompts import Messages

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class OpenAIParams(Params):
    """`params.yaml: rewrite.openai`: the endpoint, the NAME of the key's environment variable, retries."""

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
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    return " ".join(str(message or response.text or response.reason_phrase).split())[:200]


class OpenAIChatBackend:
    name = "openai"

    def __init__(self, settings: OpenAIParams) -> None:
        self.settings = settings
        self.url = settings.base_url.rstrip("/") + "/chat/completions"
        self._key = os.environ.get(settings.api_key_env, "") if settings.api_key_env else ""
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
        """Mask the key in `text` (keys shorter than 6 characters, such as vLLM's `EMPTY`, are not secrets)."""
        return text.replace(self._key, "***") if len(self._key) >= 6 else text

    def leaks(self, text: str) -> bool:
        """Whether `text` contains the API key (same 6-character floor as `redact`)."""
        return len(self._key) >= 6 and self._key in text

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
            raise RetryableStatus(status, _error_message(response), _retry_after(response))
        if status in (401, 403):
            env = self.settings.api_key_env or "(none: set rewrite.openai.api_key_env)"
            raise StageError(self.redact(f"{self.url}: HTTP {status} ({_error_message(response)}): the endpoint "
                                         f"refused the request; put the API key in the environment variable {env}"))
        if status == 404:
            raise StageError(self.redact(f"{self.url}: HTTP 404 ({_error_message(response)}): check "
                                         "rewrite.openai.base_url (it usually ends in /v1) and rewrite.openai.model"))
        if status >= 400:
            return Failure(self.redact(f"HTTP {status}: {_error_message(response)}"))
        return self._parse_body(response)

    def _parse_body(self, response: httpx.Response) -> Result:
        try:
            choice = response.json()["choices"][0]
            content = choice["message"]["content"]
            if content is not None and not isinstance(content, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            snippet = " ".join(response.text.split())[:120]
            return Failure(self.redact(f"malformed response ({type(exc).__name__}: {exc}): {snippet!r}"))
        if self.leaks(content or ""):
            return Failure(f"the completion contains the API key (environment variable {self.settings.api_key_env}); "
                           "dropped, not cached", reason="rewrite_secret_in_output")
        return Response(text=content or "", finish_reason=choice.get("finish_reason"))

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
            return Failure(self.redact(f"{exc} (after {attempts} attempts)"))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise StageError(self.redact(f"cannot reach {self.url} after {attempts} attempts "
                                         f"({type(exc).__name__}: {exc}); start the server or fix "
                                         "rewrite.openai.base_url")) from None
        except httpx.TimeoutException as exc:
            return Failure(self.redact(f"timed out after {attempts} attempts of {self.settings.timeout_s}s "
                                       f"({type(exc).__name__})"))
        except httpx.TransportError as exc:
            return Failure(self.redact(f"transport error after {attempts} attempts ({type(exc).__name__}: {exc})"))
        except httpx.DecodingError as exc:
            return Failure(self.redact(f"corrupt response body ({type(exc).__name__}: {exc}); the endpoint sent a "
                                       "body that does not decode with its Content-Encoding"))
        except httpx.RequestError as exc:
            return Failure(self.redact(f"request failed ({type(exc).__name__}: {exc})"))

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
