namespace Lvs.Devices.Native;

/// <summary>Linux constants for sockets, AF_PACKET, ioctls and errno (x86-64 and arm64 share these values).</summary>
internal static class Constants
{
    internal const int AfInet = 2;
    internal const int AfInet6 = 10;
    internal const int AfPacket = 17;
    internal const int SockRaw = 3;
    internal const int SockDgram = 2;
    internal const int SockCloexec = 0x80000;
    internal const ushort EthPAll = 0x0003;

    internal const int SolSocket = 1;
    internal const int SoError = 4;
    internal const int SolPacket = 263;
    internal const int PacketAddMembership = 1;
    internal const int PacketMrAllMulti = 2;
    internal const int PacketRxRing = 5;
    internal const int PacketVersion = 10;
    internal const int PacketReserve = 12;
    internal const int PacketTxRing = 13;
    internal const int PacketLoss = 14;
    internal const int PacketVnetHdr = 15;
    internal const int PacketFanout = 18;
    internal const int PacketQdiscBypass = 20;
    internal const int PacketIgnoreOutgoing = 23;
    internal const int TpacketV2 = 1;
    internal const int TpacketV3 = 2;

    internal const int PacketFanoutHash = 0;
    internal const int PacketFanoutCpu = 2;
    internal const int PacketFanoutQueueMapping = 5;
    internal const int PacketFanoutFlagUniqueId = 0x2000;

    internal const uint TpStatusKernel = 0;
    internal const uint TpStatusUser = 1;
    internal const uint TpStatusCsumNotReady = 1 << 3;
    internal const uint TpStatusVlanValid = 1 << 4;
    internal const uint TpStatusAvailable = 0;
    internal const uint TpStatusSendRequest = 1;
    internal const uint TpStatusWrongFormat = 1 << 2;

    internal const int ProtRead = 1;
    internal const int ProtWrite = 2;
    internal const int MapShared = 1;
    internal const int MapPopulate = 0x8000;
    internal static readonly nint MapFailed = -1;

    internal const short PollIn = 1;
    internal const short PollOut = 4;
    internal const short PollError = 8;
    internal const int MsgDontWait = 0x40;

    internal const int OReadWrite = 2;
    internal const int ONonBlock = 0x800;
    internal const int OCloexec = 0x80000;

    internal const nuint SiocGifFlags = 0x8913;
    internal const nuint SiocSifFlags = 0x8914;
    internal const nuint SiocGifMtu = 0x8921;
    internal const nuint SiocSifMtu = 0x8922;
    internal const nuint SiocSifHwAddr = 0x8924;
    internal const nuint SiocGifHwAddr = 0x8927;
    internal const nuint SiocEthtool = 0x8946;
    internal const nuint TunSetIff = 0x400454CA;

    internal const short IffUp = 0x1;
    internal const short IffTun = 0x0001;
    internal const short IffTap = 0x0002;
    internal const short IffMultiQueue = 0x0100;
    internal const short IffNoPi = 0x1000;
    internal const ushort ArpHrdEther = 1;

    internal const int EAgain = 11;
    internal const int EIntr = 4;
    internal const int ENoBufs = 105;
    internal const int EOpNotSupp = 95;
}
