from .FunctionRpc_pb2_grpc import (  # NoQA
    FunctionRpcStub,
    FunctionRpcServicer,
    add_FunctionRpcServicer_to_server)

from .FunctionRpc_pb2 import (  # NoQA
    StreamingMessage,
    StartStream,
    WorkerInitRequest,
    WorkerInitResponse,
    RpcFunctionMetadata,
    FunctionLoadRequest,
    FunctionLoadResponse,
    FunctionEnvironmentReloadRequest,
    FunctionEnvironmentReloadResponse,
    InvocationRequest,
    InvocationResponse,
    WorkerHeartbeat,
    WorkerStatusRequest,
    WorkerStatusResponse,
    BindingInfo,
    StatusResult,
    RpcException,
    ParameterBinding,
    TypedData,
    RpcHttp,
    RpcHttpCookie,
    RpcLog,
    RpcSharedMemory,
    RpcDataType,
    CloseSharedMemoryResourcesRequest,
    CloseSharedMemoryResourcesResponse,
    FunctionsMetadataRequest,
    FunctionMetadataResponse,
    WorkerMetadata,
    RpcRetryOptions)

from .shared.NullableTypes_pb2 import (
    NullableString,
    NullableBool,
    NullableDouble,
    NullableTimestamp
)
