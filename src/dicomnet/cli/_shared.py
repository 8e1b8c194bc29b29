"""The options the commands share, declared once.

:func:`shared_options` puts them into a command's signature, where Typer reads them, and hands
the command one :class:`~dicomnet.cli._common.Common` in their place; :func:`scu_options` does
the same for an SCU, with a :class:`~dicomnet.cli._common.ScuCommon`. What every command has
(network timeouts and limits, TLS, --handler, output and logging, --version) is listed in
:func:`_every`, what every SCU has besides (PEER PORT, AE titles, --connect-timeout, the
proposed transfer syntaxes, --tls-server-name) in :func:`_scu`. Adding an option to every
command is one entry there (and a field of ``Common`` if the command needs its value);
``tests/cli/test_shared_options.py`` checks that each command of the app has them.

The command's own parameters come after PEER PORT and before the shared options; ``--help``
groups options by panel, so each panel lists the shared options in the order declared here.
"""

# No `from __future__ import annotations` here: the annotations below are handed to Typer as
# they are, already evaluated (see _options).

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from dicomnet._record import fields as record_fields
from dicomnet.cli import _options as o
from dicomnet.cli._common import Common, ScuCommon
from dicomnet.cli._console import OutputFormat

_Command = TypeVar("_Command", bound=Callable[..., None])

#: The name of the parameter through which a command receives the shared options.
COMMON = "common"

_EMPTY = inspect.Parameter.empty


#: What an SCP (or an SCU's receiver) accepts: storescp's, qrscp's and movescu's +x options.
_ACCEPTS: list[tuple[str, Any, Any]] = [
    ("accept_all", o.AcceptAll, False),
    ("prefer_ts", o.PreferTS, None),
    ("prefer_uncompr", o.PreferUncompr, False),
    ("prefer_little", o.PreferLittle, False),
    ("prefer_big", o.PreferBig, False),
    ("prefer_deflated", o.PreferDeflated, False),
    ("implicit_only", o.ImplicitOnly, False),
]


def _every(
    *,
    handles: str,
    scu: bool,
    dimse_timeout: float,
    results: bool,
    receives: bool,
    accepts: bool = False,
) -> list[tuple[str, Any, Any]]:
    """(name, annotation, default) of the options every command has, in ``--help`` order
    within each panel (with --tls-server-name when ``scu``, the transfer syntaxes it accepts
    when ``accepts``)."""
    accept = list(_ACCEPTS) if accepts else []
    net: list[tuple[str, Any, Any]] = [
        ("acse_timeout", o.AcseTimeout, 30.0),
        ("dimse_timeout", o.DimseTimeout, dimse_timeout),
    ]
    if receives:
        net.append(("max_dataset_size", o.MaxDatasetSize, "4G"))
    net.append(("max_pdu", o.MaxPDU, None))
    tls: list[tuple[str, Any, Any]] = [
        ("tls_cert", o.TlsCert, None),
        ("tls_key", o.TlsKey, None),
        ("tls_ca", o.TlsCA, None),
        ("tls_no_verify", o.TlsNoVerify, False),
        ("tls_profile", o.TlsProfile, "bcp195-nd"),
    ]
    if scu:
        tls.append(("tls_server_name", o.TlsServerName, None))
    handler = Annotated[list[str] | None, o.handler_option(handles)]
    out: list[tuple[str, Any, Any]] = [("fmt", o.Format, OutputFormat.auto)] if results else []
    out += [
        ("no_color", o.NoColor, False),
        ("quiet", o.Quiet, False),
        ("verbose", o.Verbose, False),
        ("debug", o.Debug, False),
        ("log_file", o.LogFile, None),
    ]
    return [*accept, *net, *tls, ("handler", handler, None), *out, ("version", o.Version, False)]


def _scu(calling_aet: str) -> tuple[list[tuple[str, Any, Any]], list[tuple[str, Any, Any]]]:
    """An SCU's own shared parameters: the arguments that come first, and the options that
    come before the Network options of every command."""
    arguments = [("peer", o.Peer, _EMPTY), ("port", o.Port, _EMPTY)]
    options: list[tuple[str, Any, Any]] = [
        ("calling_aet", o.CallingAET, calling_aet),
        ("called_aet", o.CalledAET, "ANY-SCP"),
        ("connect_timeout", o.ConnectTimeout, 10.0),
        ("propose_ts", o.ProposeTS, None),
        ("propose_uncompr", o.ProposeUncompr, False),
        ("propose_little", o.ProposeLittle, False),
        ("propose_big", o.ProposeBig, False),
        ("propose_implicit", o.ProposeImplicit, False),
        ("propose_deflated", o.ProposeDeflated, False),
    ]
    options += [  # user identity
        ("user", o.User, None),
        ("password", o.Password, None),
        ("password_file", o.PasswordFile, None),
        ("user_jwt", o.UserJwt, None),
        ("user_saml", o.UserSaml, None),
        ("user_kerberos", o.UserKerberos, None),
        ("identity_response", o.IdentityResponse, False),
        ("allow_plain_password", o.AllowPlainPassword, False),
    ]
    return arguments, options


def shared_options(
    *,
    handles: str,
    dimse_timeout: float = 30.0,
    results: bool = True,
    receives: bool = False,
    accepts: bool = False,
) -> Callable[[_Command], _Command]:
    """Give the decorated command the options every command has; it takes them as one
    ``common`` parameter, a :class:`Common`.

    ``handles``: what ``--handler`` without ``EVENT=`` handles (for its help);
    ``dimse_timeout``: its default; ``results``: the command prints results (``--format``);
    ``receives``: it receives data sets (``--max-dataset-size``); ``accepts``: it accepts
    associations (the +x options: ``common.acceptance()``).
    """
    return _decorator(None, handles, dimse_timeout, results, receives, accepts)


def scu_options(
    calling_aet: str,
    *,
    handles: str,
    dimse_timeout: float = 30.0,
    results: bool = True,
    receives: bool = False,
    accepts: bool = False,
) -> Callable[[_Command], _Command]:
    """:func:`shared_options` for an SCU: also PEER PORT (its first arguments) and the SCU
    options, ``calling_aet`` the default of --calling-aet; ``common`` is a
    :class:`ScuCommon`."""
    return _decorator(calling_aet, handles, dimse_timeout, results, receives, accepts)


def _decorator(
    calling_aet: str | None,
    handles: str,
    dimse_timeout: float,
    results: bool,
    receives: bool,
    accepts: bool,
) -> Callable[[_Command], _Command]:
    scu = calling_aet is not None
    first: list[tuple[str, Any, Any]] = []
    shared = _every(
        handles=handles,
        scu=scu,
        dimse_timeout=dimse_timeout,
        results=results,
        receives=receives,
        accepts=accepts,
    )
    if calling_aet is not None:
        first, scu_only = _scu(calling_aet)
        shared = scu_only + shared
    record = ScuCommon if scu else Common
    fields = [f.name for f in record_fields(record)]
    taken = [name for name, _, _ in first + shared]

    def decorate(func: _Command) -> _Command:
        # Evaluated once here (string annotations of modules with postponed evaluation too):
        # Typer then reads the finished signature as it is.
        own = list(inspect.signature(func, eval_str=True).parameters.values())
        if [p.name for p in own].count(COMMON) != 1:
            raise TypeError(f"{func.__name__} must take the shared options as {COMMON!r}")
        clash = {p.name for p in own} & set(taken)
        if clash:
            raise TypeError(f"{func.__name__} declares shared options again: {sorted(clash)}")
        keyword = inspect.Parameter.KEYWORD_ONLY
        params = [inspect.Parameter(n, keyword, annotation=a, default=d) for n, a, d in first]
        params += [p.replace(kind=keyword) for p in own if p.name != COMMON]
        params += [inspect.Parameter(n, keyword, annotation=a, default=d) for n, a, d in shared]

        @functools.wraps(func)
        def command(**kwargs: Any) -> None:
            values = {name: kwargs.pop(name) for name in taken}
            values["handlers"] = tuple(values.pop("handler") or ())
            # An option with no field of its own (one that acts in its callback) is dropped.
            func(**kwargs, **{COMMON: record(**{k: values[k] for k in fields if k in values})})

        del command.__wrapped__  # the signature below is the command's, not func's
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__annotations__["return"] = None
        return command  # type: ignore[return-value]

    return decorate
