using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Lvs.Devices.Native;

namespace Lvs.Devices;

/// <summary>
/// One queue of an <see cref="AfPacketLink"/>: an AF_PACKET SOCK_RAW socket (ETH_P_ALL, PACKET_IGNORE_OUTGOING,
/// PACKET_VNET_HDR) with a memory-mapped receive ring and transmit ring (TPACKET_V2 or TPACKET_V3, see
/// <see cref="AfPacketReceiveRing"/>), in a PACKET_FANOUT group with the link's other queues.
/// </summary>
/// <remarks>
/// <para>
/// TPACKET_V2 (<see cref="AfPacketReceiveRing.Frames"/>): Receive hands out the frames the kernel has written, from
/// the next slot on, as soon as there is one: the batch's buffer is the whole receive ring, each frame lies where the
/// kernel wrote it in its slot, with the link's headroom before it and the rest of the slot after it. Its slot goes
/// back to the kernel at <see cref="Release"/> (or the next Receive).
/// </para>
/// <para>
/// TPACKET_V3 (<see cref="AfPacketReceiveRing.Blocks"/>): Receive hands out one retired ring block at a time: the
/// batch's buffer is the block, each frame lies where the kernel wrote it, with the link's headroom before it
/// (PACKET_RESERVE) and, after it, the room up to the next frame's headroom (or the block's end). The block goes back
/// to the kernel when all its frames have been delivered and <see cref="Release"/> is called.
/// </para>
/// <para>
/// Send copies each frame into the next free transmit ring slot and marks it TP_STATUS_SEND_REQUEST;
/// <see cref="Flush"/> makes one <c>sendto</c> that sends every marked slot (the kernel walks the ring). That is one
/// system call per batch with no per-frame message headers, unlike <c>sendmmsg</c>.
/// </para>
/// </remarks>
public sealed unsafe class AfPacketQueue : IFrameQueue, IPollableFrameQueue, IDisposable
{
    private const int AutoFlushSlots = 64;

    private readonly AfPacketLink _link;
    private readonly int _fd;
    private readonly byte* _map;
    private readonly nuint _mapLength;
    private readonly int _blockSize;
    private readonly int _blockCount;
    private readonly NativeMemoryManager[] _blocks;
    private readonly byte* _transmitRing;
    private readonly int _slotSize;
    private readonly int _slotCount;
    private readonly int _maxFrameLength;
    private readonly int _headroom;
    private readonly bool _frameRing;
    private readonly int _frameSize;
    private readonly int _frameCount;
    private readonly int _framesPerBlock;
    private readonly NativeMemoryManager? _receiveRing;
    private readonly int _transmitStatusOffset;
    private readonly int _transmitLengthOffset;
    private readonly int _transmitSnapLengthOffset;
    private readonly int _transmitDataOffset;
    private int _frame;
    private int _consumedFirst;
    private int _consumed;
    private int _block;
    private bool _holding;
    private int _remaining;
    private int _next;
    private FrameHeader _nextHeader;
    private bool _hasNextHeader;
    private int _slot;
    private int _pending;
    private int _disposed;

    internal AfPacketQueue(AfPacketLink link, int interfaceIndex, AfPacketLinkOptions options, int maxFrameLength)
    {
        _link = link;
        _maxFrameLength = maxFrameLength;
        _headroom = options.Headroom;
        _blockSize = options.BlockSize;
        _blockCount = options.BlockCount;
        _frameRing = options.ReceiveRing == AfPacketReceiveRing.Frames;
        if (_frameRing)
        {
            // struct tpacket2_hdr: tp_status, tp_len, tp_snaplen; the data after the header (32 bytes).
            _transmitStatusOffset = PacketRingLayout.V2FrameStatus;
            _transmitLengthOffset = PacketRingLayout.V2FrameLength;
            _transmitSnapLengthOffset = PacketRingLayout.V2FrameSnapLength;
            _transmitDataOffset = PacketRingLayout.V2TransmitDataOffset;

            // A slot holds the header, the headroom, the largest frame and its tailroom.
            _frameSize = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(PacketRingLayout.V2MacOffset(Reserve(options)) + maxFrameLength + options.Tailroom));
            if (_frameSize > _blockSize)
            {
                throw new ArgumentOutOfRangeException(nameof(options), _blockSize, $"BlockSize must hold at least one {_frameSize}-byte receive slot.");
            }

            _framesPerBlock = _blockSize / _frameSize;
            _frameCount = _framesPerBlock * _blockCount;
        }
        else
        {
            _transmitStatusOffset = PacketRingLayout.FrameStatus;
            _transmitLengthOffset = PacketRingLayout.FrameLength;
            _transmitSnapLengthOffset = PacketRingLayout.FrameSnapLength;
            _transmitDataOffset = PacketRingLayout.TransmitDataOffset;
        }

        _fd = LibC.Socket(Constants.AfPacket, Constants.SockRaw | Constants.SockCloexec, 0);
        if (_fd < 0)
        {
            throw LibC.Failure("socket(AF_PACKET, SOCK_RAW)");
        }

        try
        {
            SetOption(Constants.PacketVersion, _frameRing ? Constants.TpacketV2 : Constants.TpacketV3, _frameRing ? "PACKET_VERSION TPACKET_V2" : "PACKET_VERSION TPACKET_V3");
            SetOption(Constants.PacketVnetHdr, 1, "PACKET_VNET_HDR");
            SetOption(Constants.PacketReserve, Reserve(options), "PACKET_RESERVE");
            SetOption(Constants.PacketIgnoreOutgoing, 1, "PACKET_IGNORE_OUTGOING");
            SetOption(Constants.PacketLoss, 1, "PACKET_LOSS");
            if (options.BypassQueueingDiscipline)
            {
                SetOption(Constants.PacketQdiscBypass, 1, "PACKET_QDISC_BYPASS");
            }

            const int blockFrameSize = 2048;
            var receive = _frameRing
                ? new PacketRingRequest
                {
                    BlockSize = (uint)_blockSize,
                    BlockCount = (uint)_blockCount,
                    FrameSize = (uint)_frameSize,
                    FrameCount = (uint)_frameCount,
                }
                : new PacketRingRequest
                {
                    BlockSize = (uint)_blockSize,
                    BlockCount = (uint)_blockCount,
                    FrameSize = blockFrameSize,
                    FrameCount = (uint)(_blockSize / blockFrameSize * _blockCount),
                    RetireBlockTimeoutMilliseconds = (uint)options.BlockTimeoutMilliseconds,
                };
            SetRing(Constants.PacketRxRing, receive, "PACKET_RX_RING");

            _slotSize = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(_transmitDataOffset + PacketRingLayout.VnetHeaderSize + maxFrameLength));
            int transmitBlockSize = Math.Max(_slotSize, 64 * 1024);
            int slotsPerBlock = transmitBlockSize / _slotSize;
            int transmitBlocks = Math.Max(1, (options.TransmitSlots + slotsPerBlock - 1) / slotsPerBlock);
            _slotCount = transmitBlocks * slotsPerBlock;
            var transmit = new PacketRingRequest
            {
                BlockSize = (uint)transmitBlockSize,
                BlockCount = (uint)transmitBlocks,
                FrameSize = (uint)_slotSize,
                FrameCount = (uint)_slotCount,
            };
            SetRing(Constants.PacketTxRing, transmit, "PACKET_TX_RING");

            long receiveLength = (long)_blockSize * _blockCount;
            _mapLength = (nuint)(receiveLength + ((long)transmitBlockSize * transmitBlocks));
            nint map = LibC.MemoryMap(0, _mapLength, Constants.ProtRead | Constants.ProtWrite, Constants.MapShared | Constants.MapPopulate, _fd, 0);
            if (map == Constants.MapFailed)
            {
                throw LibC.Failure("mmap of the packet rings");
            }

            _map = (byte*)map;
            _transmitRing = _map + receiveLength;
            _blocks = new NativeMemoryManager[_blockCount];
            for (int i = 0; i < _blockCount; i++)
            {
                _blocks[i] = new NativeMemoryManager(_map + ((long)i * _blockSize), _blockSize);
            }

            if (_frameRing)
            {
                _receiveRing = new NativeMemoryManager(_map, checked((int)receiveLength));
            }

            var address = new LinkLayerAddress
            {
                Family = Constants.AfPacket,
                ProtocolBigEndian = BinaryPrimitives.ReverseEndianness(Constants.EthPAll),
                InterfaceIndex = interfaceIndex,
            };
            if (LibC.Bind(_fd, &address, sizeof(LinkLayerAddress)) < 0)
            {
                throw LibC.Failure($"bind of an AF_PACKET socket to interface {interfaceIndex}");
            }
        }
        catch
        {
            ReleaseResources();
            throw;
        }
    }

    /// <inheritdoc/>
    public IFrameLink Link => _link;

    /// <summary>This queue's counters.</summary>
    public FrameQueueCounters Counters { get; } = new();

    /// <summary>The socket's file descriptor.</summary>
    int IPollableFrameQueue.Descriptor => _fd;

    /// <inheritdoc/>
    bool IPollableFrameQueue.HasPending => Volatile.Read(ref _disposed) == 0 && (_frameRing
        ? (Volatile.Read(ref *(uint*)(_map + FrameOffset(_frame) + PacketRingLayout.V2FrameStatus)) & Constants.TpStatusUser) != 0
        : (_holding && _remaining > 0) || (Volatile.Read(ref *(uint*)(BlockAt(_block) + PacketRingLayout.BlockStatus)) & Constants.TpStatusUser) != 0);

    /// <inheritdoc/>
    void IPollableFrameQueue.AcknowledgeError() => AcknowledgeError();

    /// <inheritdoc/>
    public int Receive(FrameBatch batch, int timeoutMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Headroom > _headroom)
        {
            throw new ArgumentException($"The batch wants {batch.Headroom} bytes of headroom; the link gives {_headroom}.", nameof(batch));
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            batch.Reset(Memory<byte>.Empty, this);
            return 0;
        }

        if (_frameRing)
        {
            return ReceiveFrames(batch, timeoutMilliseconds);
        }

        ReturnBlockIfDone();
        long deadline = 0;
        while (true)
        {
            if (!_holding)
            {
                byte* block = BlockAt(_block);
                if ((Volatile.Read(ref *(uint*)(block + PacketRingLayout.BlockStatus)) & Constants.TpStatusUser) == 0)
                {
                    if (!WaitForKernel(batch, ref deadline, timeoutMilliseconds))
                    {
                        return 0;
                    }

                    continue;
                }

                _holding = true;
                _remaining = (int)*(uint*)(block + PacketRingLayout.BlockPacketCount);
                _next = (int)*(uint*)(block + PacketRingLayout.BlockFirstPacketOffset);
            }

            batch.Reset(_blocks[_block].Memory, this);
            Fill(batch);
            if (batch.Count > 0)
            {
                Counters.CountReceived(batch.Count);
                return batch.Count;
            }

            ReturnBlockIfDone();
        }
    }

    /// <inheritdoc/>
    public void Release(FrameBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.Clear();
        if (_frameRing)
        {
            ReturnFrames();
        }
        else
        {
            ReturnBlockIfDone();
        }
    }

    /// <inheritdoc/>
    public bool TrySend(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14 || frame.Length > _maxFrameLength)
        {
            Counters.CountDrop(LinkDropReason.TransmitBadLength);
            return false;
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            return false;
        }

        byte* slot = _transmitRing + ((long)_slot * _slotSize);
        ref uint status = ref *(uint*)(slot + _transmitStatusOffset);
        if (Volatile.Read(ref status) != Constants.TpStatusAvailable)
        {
            Flush();
            if (Volatile.Read(ref status) != Constants.TpStatusAvailable)
            {
                Counters.CountDrop(LinkDropReason.TransmitQueueFull);
                return false;
            }
        }

        byte* data = slot + _transmitDataOffset;
        new Span<byte>(data, PacketRingLayout.VnetHeaderSize).Clear();
        frame.CopyTo(new Span<byte>(data + PacketRingLayout.VnetHeaderSize, frame.Length));
        if (!_frameRing)
        {
            *(uint*)(slot + PacketRingLayout.FrameNextOffset) = 0;
        }

        *(uint*)(slot + _transmitLengthOffset) = (uint)(frame.Length + PacketRingLayout.VnetHeaderSize);
        *(uint*)(slot + _transmitSnapLengthOffset) = (uint)(frame.Length + PacketRingLayout.VnetHeaderSize);
        Volatile.Write(ref status, Constants.TpStatusSendRequest);
        _slot = _slot + 1 == _slotCount ? 0 : _slot + 1;
        if (++_pending >= AutoFlushSlots)
        {
            Flush();
        }

        return true;
    }

    /// <inheritdoc/>
    public void Flush()
    {
        if (_pending == 0 || Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        nint sent = LibC.SendTo(_fd, null, 0, Constants.MsgDontWait, null, 0);
        if (sent < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno is not (Constants.EAgain or Constants.ENoBufs or Constants.EIntr))
            {
                Counters.CountDrop(LinkDropReason.TransmitError);
            }

            // The marked slots stay marked: the next flush sends them.
            return;
        }

        Counters.CountSent(_pending);
        _pending = 0;
    }

    /// <summary>Asks the interface for every multicast frame while this socket is open (PACKET_ADD_MEMBERSHIP, PACKET_MR_ALLMULTI).</summary>
    internal void ReceiveAllMulticast(int interfaceIndex)
    {
        var request = new PacketMembershipRequest { InterfaceIndex = interfaceIndex, Type = Constants.PacketMrAllMulti };
        if (LibC.SetSocketOption(_fd, Constants.SolPacket, Constants.PacketAddMembership, &request, sizeof(PacketMembershipRequest)) < 0)
        {
            throw LibC.Failure("setsockopt PACKET_ADD_MEMBERSHIP (PACKET_MR_ALLMULTI)");
        }
    }

    /// <summary>Joins the socket to a fanout group.</summary>
    /// <returns>The group id (the kernel's pick when <paramref name="groupId"/> is 0).</returns>
    internal int JoinFanout(int groupId, AfPacketFanoutMode mode)
    {
        int value = groupId | (((int)mode | (groupId == 0 ? Constants.PacketFanoutFlagUniqueId : 0)) << 16);
        SetOption(Constants.PacketFanout, value, "PACKET_FANOUT");
        if (groupId != 0)
        {
            return groupId;
        }

        int current = 0;
        int length = sizeof(int);
        if (LibC.GetSocketOption(_fd, Constants.SolPacket, Constants.PacketFanout, &current, &length) < 0)
        {
            throw LibC.Failure("getsockopt PACKET_FANOUT");
        }

        return current & 0xFFFF;
    }

    /// <summary>Unmaps the rings and closes the socket. Call only after the thread using the queue has stopped.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            ReleaseResources();
        }
    }

    /// <summary>
    /// PACKET_RESERVE for the wanted headroom and tailroom. The kernel puts a frame's MAC header at
    /// TPACKET_ALIGN(68 + 14) + reserve + 10 (virtio_net_hdr) - 14 = 92 + reserve from its tpacket3_hdr, so a frame has
    /// 24 + reserve bytes after the header and sockaddr_ll (the virtio_net_hdr among them, read before the engine
    /// runs); the previous frame's room ends that headroom before it, 28 + reserve bytes past this header's start.
    /// </summary>
    private static int Reserve(AfPacketLinkOptions options) => Math.Max(0, Math.Max(options.Headroom - 24, options.Tailroom - 28));

    /// <summary>
    /// Waits for a block with poll. A pending socket error (ENETDOWN when the interface goes down) makes poll return
    /// at once with POLLERR: it is read (SO_ERROR clears it) so the next wait blocks again instead of spinning.
    /// </summary>
    private void Wait(int timeoutMilliseconds)
    {
        var poll = new PollDescriptor { Fd = _fd, Events = Constants.PollIn | Constants.PollError };
        if (LibC.Poll(&poll, 1, timeoutMilliseconds) > 0 && (poll.ReturnedEvents & Constants.PollError) != 0)
        {
            AcknowledgeError();
        }
    }

    /// <summary>Reads (and so clears) the pending socket error, and counts it.</summary>
    private void AcknowledgeError()
    {
        int error = 0;
        int length = sizeof(int);
        LibC.GetSocketOption(_fd, Constants.SolSocket, Constants.SoError, &error, &length);
        Counters.CountSocketError();
    }

    private byte* BlockAt(int index) => _map + ((long)index * _blockSize);

    /// <summary>
    /// The ring's next block or frame is still the kernel's: waits for it until the receive's deadline (set on the
    /// first wait) and says whether to look again; false when the time is up or the queue is disposed, the batch then
    /// empty. Both ring layouts wait through this.
    /// </summary>
    private bool WaitForKernel(FrameBatch batch, ref long deadline, int timeoutMilliseconds)
    {
        if (deadline == 0)
        {
            deadline = Environment.TickCount64 + Math.Max(0, timeoutMilliseconds);
        }

        int left = (int)Math.Min(int.MaxValue, deadline - Environment.TickCount64);
        if (left <= 0 || Volatile.Read(ref _disposed) != 0)
        {
            batch.Reset(Memory<byte>.Empty, this);
            return false;
        }

        Wait(left);
        return true;
    }

    /// <summary>The offset of receive slot <paramref name="index"/> in the ring (a slot never straddles two blocks).</summary>
    private long FrameOffset(int index) => ((long)(index / _framesPerBlock) * _blockSize) + ((long)(index % _framesPerBlock) * _frameSize);

    private int ReceiveFrames(FrameBatch batch, int timeoutMilliseconds)
    {
        ReturnFrames();
        long deadline = 0;
        while (true)
        {
            if ((Volatile.Read(ref *(uint*)(_map + FrameOffset(_frame) + PacketRingLayout.V2FrameStatus)) & Constants.TpStatusUser) == 0)
            {
                if (!WaitForKernel(batch, ref deadline, timeoutMilliseconds))
                {
                    return 0;
                }

                continue;
            }

            batch.Reset(_receiveRing!.Memory, this);
            FillFrames(batch);
            if (batch.Count > 0)
            {
                Counters.CountReceived(batch.Count);
                return batch.Count;
            }

            // Every frame was dropped: their slots go back now.
            ReturnFrames();
        }
    }

    /// <summary>Takes the frames the kernel has handed over, from the next slot on, until the batch is full.</summary>
    private void FillFrames(FrameBatch batch)
    {
        while (batch.Count < batch.Capacity && _consumed < _frameCount)
        {
            long offset = FrameOffset(_frame);
            byte* slot = _map + offset;
            uint status = Volatile.Read(ref *(uint*)(slot + PacketRingLayout.V2FrameStatus));
            if ((status & Constants.TpStatusUser) == 0)
            {
                return;
            }

            if (_consumed == 0)
            {
                _consumedFirst = _frame;
            }

            _consumed++;
            _frame = _frame + 1 == _frameCount ? 0 : _frame + 1;
            uint length = *(uint*)(slot + PacketRingLayout.V2FrameLength);
            uint snapLength = *(uint*)(slot + PacketRingLayout.V2FrameSnapLength);
            int mac = *(ushort*)(slot + PacketRingLayout.V2FrameMacOffset);
            if (length > _maxFrameLength)
            {
                // A super-frame is also cut to the slot: it is oversize, whatever was kept of it.
                Counters.CountDrop(LinkDropReason.Oversize);
                continue;
            }

            if (snapLength != length || mac + (long)snapLength > _frameSize || mac < batch.Headroom + PacketRingLayout.V2FrameHeaderWithAddress)
            {
                Counters.CountDrop(LinkDropReason.Truncated);
                continue;
            }

            if ((status & Constants.TpStatusVlanValid) != 0)
            {
                Counters.CountDrop(LinkDropReason.VlanTagged);
                continue;
            }

            int start = checked((int)(offset + mac));
            if ((status & Constants.TpStatusCsumNotReady) != 0 && !CompleteChecksum(_map, start, (int)length))
            {
                Counters.CountDrop(LinkDropReason.PartialChecksumOutOfBounds);
                continue;
            }

            batch.TryAdd(start, (int)length, _frameSize - mac);
        }
    }

    /// <summary>Gives the slots taken since the last return back to the kernel.</summary>
    private void ReturnFrames()
    {
        int index = _consumedFirst;
        for (int i = 0; i < _consumed; i++)
        {
            Volatile.Write(ref *(uint*)(_map + FrameOffset(index) + PacketRingLayout.V2FrameStatus), Constants.TpStatusKernel);
            index = index + 1 == _frameCount ? 0 : index + 1;
        }

        _consumed = 0;
    }

    private void Fill(FrameBatch batch)
    {
        byte* block = BlockAt(_block);
        int headroom = batch.Headroom;
        while (_remaining > 0 && batch.Count < batch.Capacity)
        {
            // A header may have been read already (as the next frame's): the frame before it may have overwritten it since.
            FrameHeader header = _hasNextHeader ? _nextHeader : FrameHeader.Read(block + _next);
            _hasNextHeader = false;
            int start = _next + header.MacOffset;
            _remaining--;
            if (_remaining > 0 && (header.NextOffset == 0 || _next + (long)header.NextOffset >= _blockSize))
            {
                _remaining = 0; // A block the kernel did not fill as documented: give it back.
            }

            _next += (int)header.NextOffset;
            int end = _blockSize;
            if (_remaining > 0)
            {
                // The frame owns the bytes up to the next frame's headroom (the next header among them, read now);
                // the last frame of the block owns the block's rest.
                _nextHeader = FrameHeader.Read(block + _next);
                _hasNextHeader = true;
                end = _next + _nextHeader.MacOffset - headroom;
            }

            int length = (int)header.Length;
            if (header.SnapLength != header.Length || start + (long)header.SnapLength > _blockSize)
            {
                Counters.CountDrop(LinkDropReason.Truncated);
                continue;
            }

            if ((header.Status & Constants.TpStatusVlanValid) != 0)
            {
                Counters.CountDrop(LinkDropReason.VlanTagged);
                continue;
            }

            if (length > _maxFrameLength)
            {
                Counters.CountDrop(LinkDropReason.Oversize);
                continue;
            }

            if ((header.Status & Constants.TpStatusCsumNotReady) != 0 && !CompleteChecksum(block, start, length))
            {
                Counters.CountDrop(LinkDropReason.PartialChecksumOutOfBounds);
                continue;
            }

            batch.TryAdd(start, length, Math.Max(length, end - start));
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool CompleteChecksum(byte* block, int start, int length)
    {
        byte* vnet = block + start - PacketRingLayout.VnetHeaderSize;
        if ((vnet[PacketRingLayout.VnetFlags] & PacketRingLayout.VnetFlagNeedsChecksum) == 0)
        {
            return true;
        }

        int checksumStart = BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(vnet + PacketRingLayout.VnetChecksumStart, 2));
        int checksumOffset = BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(vnet + PacketRingLayout.VnetChecksumOffset, 2));
        if (!PartialChecksum.TryComplete(new Span<byte>(block + start, length), checksumStart, checksumOffset))
        {
            return false;
        }

        Counters.CountChecksumCompleted();
        return true;
    }

    private void ReturnBlockIfDone()
    {
        if (_holding && _remaining == 0)
        {
            Volatile.Write(ref *(uint*)(BlockAt(_block) + PacketRingLayout.BlockStatus), Constants.TpStatusKernel);
            _holding = false;
            _hasNextHeader = false;
            _block = _block + 1 == _blockCount ? 0 : _block + 1;
        }
    }

    private void SetOption(int name, int value, string what)
    {
        if (LibC.SetSocketOption(_fd, Constants.SolPacket, name, &value, sizeof(int)) < 0)
        {
            throw LibC.Failure($"setsockopt {what}");
        }
    }

    private void SetRing(int name, PacketRingRequest request, string what)
    {
        if (LibC.SetSocketOption(_fd, Constants.SolPacket, name, &request, sizeof(PacketRingRequest)) < 0)
        {
            throw LibC.Failure($"setsockopt {what} ({request.BlockCount} blocks of {request.BlockSize} bytes)");
        }
    }

    private void ReleaseResources()
    {
        if (_map != null)
        {
            LibC.MemoryUnmap((nint)_map, _mapLength);
        }

        if (_fd >= 0)
        {
            LibC.Close(_fd);
        }
    }
}
